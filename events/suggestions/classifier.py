"""Which category a description most likely belongs to (pure: no web framework, no database).

The text becomes tokens: jieba's words (its default dictionary, loaded once and lazily: about
half a second) and the character bigrams of every run of CJK letters, digits or Latin letters,
so that a word jieba splits differently, a typo or a missing character still leaves most of the
evidence. Tokens are hashed (scikit-learn's HashingVectorizer: no vocabulary to store) into
2**20 columns and weighted by TF-IDF (sub-linear term frequency, IDF fitted on the training
texts).

The model is multinomial naive Bayes, a linear model: the score of a category is its prior plus
the sum over the text's weighted tokens of log P(token | category). Categories see only a small
part of the columns, so the weights are stored sparse — a column a category never saw has that
category's smoothing constant — which keeps a city's model at a few megabytes and a suggestion
under a millisecond. Scores become probabilities through a softmax whose temperature is chosen
on the held-out slice (naive Bayes alone is over-confident).

A trained model is saved as a NumPy archive of plain arrays, read back with allow_pickle=False:
loading a stored model never runs code.
"""

from __future__ import annotations

import io
import re
import threading
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils import murmurhash3_32

FEATURES = 2**20
FORMAT = 1  # bumped when the tokens or the archive change: older models are then not loaded
ALPHA = 1e-4  # additive smoothing of the token weights (chosen on the generated corpus)
TEMPERATURES = (1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 30.0)
TOP = 3

# Runs of letters that carry meaning: CJK ideographs, Latin letters, digits.
RUN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbfa-z0-9]+")
WORD = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbfa-z]")

_jieba_lock = threading.Lock()
_tokenizer: object | None = None


def _jieba() -> object:
    """jieba's default tokenizer, its dictionary loaded on first use (once per process)."""
    global _tokenizer
    if _tokenizer is None:
        with _jieba_lock:
            if _tokenizer is None:
                import logging

                import jieba

                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                _tokenizer = tokenizer
    return _tokenizer


def warm_up() -> None:
    """Load jieba's dictionary now (about half a second) rather than on the first suggestion."""
    tokens("井盖")


def normalised(text: str) -> str:
    """Full-width forms folded (ＡＢ１ → ab1), lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def tokens(text: str) -> list[str]:
    """jieba's words (those with a letter) and the character bigrams of each run."""
    text = normalised(text)
    cut = _jieba().cut  # type: ignore[attr-defined]
    found = [f"w:{word}" for word in cut(text, HMM=False) if WORD.search(word)]
    for run in RUN.findall(text):
        if len(run) == 1:
            found.append(f"c:{run}")
        found.extend(f"c:{run[i : i + 2]}" for i in range(len(run) - 1))
    return found


def _same(tokens_of_text: list[str]) -> list[str]:
    return tokens_of_text


HASHER = HashingVectorizer(
    analyzer=_same, n_features=FEATURES, alternate_sign=False, norm=None, dtype=np.float32
)


def column(token: str) -> int:
    """The hashed column of a token, as HASHER puts it (signed MurmurHash3, absolute value)."""
    hashed = int(murmurhash3_32(token, seed=0, positive=False))
    if hashed == -(2**31):
        return (2**31 - 1 - (FEATURES - 1)) % FEATURES
    return abs(hashed) % FEATURES


def counts(token_lists: Iterable[list[str]]) -> sparse.csr_matrix:
    """Token counts, one row per text, in the hashed columns."""
    return sparse.csr_matrix(HASHER.transform(token_lists))


@dataclass(frozen=True)
class Suggestion:
    category_id: int
    probability: float


@dataclass(frozen=True)
class Accuracy:
    """How often the right category was first, or among the first three, on held-out texts."""

    top1: float
    top3: float
    texts: int


@dataclass
class Model:
    """A trained model: category ids, their log priors and smoothing constants, the sparse
    log-likelihood excess of the tokens each category saw, the IDF and the temperature."""

    categories: npt.NDArray[np.int64]
    log_prior: npt.NDArray[np.float64]
    log_unseen: npt.NDArray[np.float64]  # log P(token | category) of a token it never saw
    excess: sparse.csr_matrix  # FEATURES x categories: log P(token | c) - log_unseen[c]
    idf: npt.NDArray[np.float32]  # FEATURES
    temperature: float = 1.0

    def scores(self, weighted: sparse.csr_matrix) -> npt.NDArray[np.float64]:
        """Joint log-likelihoods, one row per text, one column per category."""
        mass = np.asarray(weighted.sum(axis=1), dtype=np.float64)  # texts x 1
        linear = np.asarray((weighted @ self.excess).todense(), dtype=np.float64)
        return linear + mass * self.log_unseen[np.newaxis, :] + self.log_prior[np.newaxis, :]

    @property
    def known(self) -> npt.NDArray[np.bool_]:
        """The columns some category saw in training. Only these count: a token no category
        ever saw says nothing about the category, yet through the smoothing constants it
        would favour the categories with the fewest texts."""
        cached: npt.NDArray[np.bool_] | None = self.__dict__.get("_known")
        if cached is None:
            cached = np.diff(self.excess.indptr) > 0
            self.__dict__["_known"] = cached
        return cached

    def weighted(self, token_counts: sparse.csr_matrix) -> sparse.csr_matrix:
        kept = sparse.csr_matrix(token_counts.multiply(self.known[np.newaxis, :]))
        kept.eliminate_zeros()
        return tfidf(kept, self.idf)

    def probabilities(self, weighted: sparse.csr_matrix) -> npt.NDArray[np.float64]:
        return softmax(self.scores(weighted) / self.temperature)

    def text_scores(self, text: str) -> npt.NDArray[np.float64] | None:
        """The scores of one text (as `scores` gives them), computed without building a matrix
        row: hashed columns, TF-IDF, and only the rows of `excess` the text has."""
        columns, repeats = np.unique(
            np.fromiter((column(token) for token in tokens(text)), dtype=np.int64),
            return_counts=True,
        )
        seen = self.known[columns]
        columns, repeats = columns[seen], repeats[seen]
        if not len(columns):
            return None
        weights = (1.0 + np.log(repeats)) * self.idf[columns]
        weights /= np.sqrt(np.dot(weights, weights))
        linear = self.excess[columns].T @ weights
        result: npt.NDArray[np.float64] = (
            np.asarray(linear, dtype=np.float64).ravel()
            + weights.sum() * self.log_unseen
            + self.log_prior
        )
        return result

    def suggest(self, text: str, top: int = TOP) -> list[Suggestion]:
        """The `top` likeliest categories of the text, likeliest first."""
        scores = self.text_scores(text)
        if scores is None:
            return []
        row = softmax(scores[np.newaxis, :] / self.temperature)[0]
        best = np.argsort(-row, kind="stable")[:top]
        return [Suggestion(int(self.categories[i]), round(float(row[i]), 4)) for i in best]

    def accuracy(self, weighted: sparse.csr_matrix, labels: Sequence[int]) -> Accuracy:
        """Top-1 and top-3 accuracy on texts with their right categories."""
        if not len(labels):
            return Accuracy(0.0, 0.0, 0)
        scores = self.scores(weighted)
        index = {int(category): i for i, category in enumerate(self.categories)}
        right = np.array([index.get(int(label), -1) for label in labels])
        known = right >= 0
        right_score = scores[np.arange(len(right)), np.where(known, right, 0)]
        better = (scores > right_score[:, np.newaxis]).sum(axis=1)
        top1 = float(np.mean(known & (better == 0)))
        top3 = float(np.mean(known & (better < TOP)))
        return Accuracy(round(top1, 4), round(top3, 4), len(labels))

    def to_bytes(self) -> bytes:
        """A NumPy archive of plain arrays (no pickled objects)."""
        buffer = io.BytesIO()
        excess = self.excess.tocsr()
        np.savez_compressed(
            buffer,
            format=np.array([FORMAT, FEATURES], dtype=np.int64),
            categories=self.categories,
            log_prior=self.log_prior,
            log_unseen=self.log_unseen,
            excess_data=excess.data.astype(np.float32),
            excess_indices=excess.indices,
            excess_indptr=excess.indptr,
            idf=self.idf,
            temperature=np.array([self.temperature]),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Model:
        """A model saved by to_bytes; ValueError for another format or a damaged archive."""
        try:
            return cls._read(data)
        except (OSError, KeyError, zipfile.BadZipFile) as error:
            raise ValueError(f"not a suggestion model archive: {error}") from error

    @classmethod
    def _read(cls, data: bytes) -> Model:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            version, features = (int(value) for value in archive["format"])
            if version != FORMAT or features != FEATURES:
                raise ValueError(f"model format {version}/{features}, expected {FORMAT}/{FEATURES}")
            categories = archive["categories"]
            excess = sparse.csr_matrix(
                (archive["excess_data"], archive["excess_indices"], archive["excess_indptr"]),
                shape=(FEATURES, len(categories)),
            )
            return cls(
                categories=categories,
                log_prior=archive["log_prior"],
                log_unseen=archive["log_unseen"],
                excess=excess,
                idf=archive["idf"],
                temperature=float(archive["temperature"][0]),
            )


def softmax(scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    result: npt.NDArray[np.float64] = shifted / shifted.sum(axis=1, keepdims=True)
    return result


def fitted_idf(token_counts: sparse.csr_matrix) -> npt.NDArray[np.float32]:
    """Smoothed IDF per column: ln((1 + n) / (1 + df)) + 1."""
    n = token_counts.shape[0]
    df = np.bincount(token_counts.indices, minlength=FEATURES)
    idf: npt.NDArray[np.float32] = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
    return idf


def tfidf(token_counts: sparse.csr_matrix, idf: npt.NDArray[np.float32]) -> sparse.csr_matrix:
    """(1 + ln tf) * idf per token; rows L2-normalised."""
    weighted = token_counts.copy()
    weighted.data = (1.0 + np.log(weighted.data)) * idf[weighted.indices]
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    result: sparse.csr_matrix = sparse.csr_matrix(sparse.diags(1.0 / norms) @ weighted)
    return result


def fit(
    token_counts: sparse.csr_matrix,
    labels: Sequence[int],
    weights: Sequence[float] | None = None,
    *,
    alpha: float = ALPHA,
) -> Model:
    """A model of the labelled texts (token counts); `weights` count some texts more (e.g.
    dispatchers' corrections)."""
    if token_counts.shape[0] == 0:
        raise ValueError("no texts to train on")
    categories, label_index = np.unique(np.asarray(labels, dtype=np.int64), return_inverse=True)
    sample_weight = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=float)
    membership = sparse.csr_matrix(
        (sample_weight, (np.arange(len(labels)), label_index)),
        shape=(len(labels), len(categories)),
    )
    idf = fitted_idf(token_counts)
    weighted = tfidf(token_counts, idf)
    token_mass = sparse.csr_matrix((weighted.T @ membership).astype(np.float64))  # FEATURES x C
    totals = np.asarray(token_mass.sum(axis=0)).ravel() + alpha * FEATURES
    log_unseen = np.log(alpha) - np.log(totals)
    excess = token_mass.tocsc()
    excess.data = np.log(excess.data + alpha) - np.log(alpha)
    class_mass = np.asarray(membership.sum(axis=0)).ravel()
    log_prior = np.log(class_mass / class_mass.sum())
    return Model(
        categories=categories,
        log_prior=log_prior,
        log_unseen=log_unseen,
        excess=sparse.csr_matrix(excess.astype(np.float32)),
        idf=idf,
    )


def calibrated(model: Model, weighted: sparse.csr_matrix, labels: Sequence[int]) -> Model:
    """The model with the softmax temperature that gives the held-out texts' right categories
    the highest likelihood (unchanged when no held-out text has a known category)."""
    index = {int(category): i for i, category in enumerate(model.categories)}
    rows = [i for i, label in enumerate(labels) if int(label) in index]
    if not rows:
        return model
    scores = model.scores(weighted[rows])
    right = np.array([index[int(labels[i])] for i in rows])
    best, best_loss = model.temperature, np.inf
    for temperature in TEMPERATURES:
        tempered = scores / temperature
        tempered -= tempered.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(tempered).sum(axis=1))
        loss = float(np.mean(log_norm - tempered[np.arange(len(rows)), right]))
        if loss < best_loss:
            best, best_loss = temperature, loss
    model.temperature = best
    return model


@dataclass(frozen=True)
class Trained:
    """A model fitted on every text, with its held-out accuracy (of the same method fitted on
    the texts before the held-out slice)."""

    model: Model
    held_out: Accuracy
    trained_on: int


def train(
    texts: Sequence[str],
    labels: Sequence[int],
    weights: Sequence[float] | None = None,
    *,
    held_out_fraction: float = 0.2,
) -> Trained:
    """Fit on the texts before the last `held_out_fraction` (texts come oldest first), measure
    on that slice, choose the temperature there, then fit again on every text."""
    if not 0 < held_out_fraction < 1:
        raise ValueError("the held-out fraction must be between 0 and 1")
    if len(texts) < 2:
        raise ValueError(f"{len(texts)} texts: at least 2 are needed to train and measure")
    all_counts = counts(tokens(text) for text in texts)
    cut = min(len(texts) - 1, max(1, round(len(texts) * (1 - held_out_fraction))))
    weight_list = None if weights is None else list(weights)
    early = fit(all_counts[:cut], labels[:cut], None if weight_list is None else weight_list[:cut])
    later = early.weighted(all_counts[cut:])
    held_out = early.accuracy(later, labels[cut:])
    early = calibrated(early, later, labels[cut:])
    model = fit(all_counts, labels, weight_list)
    model.temperature = early.temperature
    return Trained(model=model, held_out=held_out, trained_on=len(texts))
