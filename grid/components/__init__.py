"""The component inventory (部件普查): located assets with the units that own and maintain them."""
