/* Routing rules administration (dispatch/rules/pages.py).
 *
 * On the versions pages, a `form.js-reactivate` makes an earlier version the one in force again:
 * its rules are read from the API and saved as a new version taking effect now.
 *
 * On the draft page, the draft is the body of POST /api/dispatch/rules, started from a version
 * (#draft-base) and kept in this browser (localStorage) until it is activated or discarded: its
 * rules are listed (filtered, 50 a page), added, changed and removed with the rule form, named
 * with the page's choices (#draft-choices: departments, categories, regions by name); the draft
 * is simulated (POST /api/dispatch/rules/simulate) and activated (POST /api/dispatch/rules).
 * The API's refusals are said per rule ("Rule 12: …", with a button to edit it). */
(function () {
  "use strict";

  const citygrid = window.citygrid;
  const STORE_KEY = "citygrid.rules.draft";
  const PAGE_SIZE = 50;
  const REGION_KINDS = ["district", "street", "community"];
  const NAMED_PROBLEMS = ["department", "category", "area"];

  /** A message with its {name} and %(name)s placeholders filled in. */
  function fill(key, params) {
    let text = citygrid.t(key, params);
    for (const [name, value] of Object.entries(params || {})) {
      text = text.split("%(" + name + ")s").join(String(value));
    }
    return text;
  }

  function jsonOf(id) {
    const element = document.getElementById(id);
    return element ? JSON.parse(element.textContent || "null") : null;
  }

  function showFormError(form, text) {
    const target = form.querySelector(".form-error");
    if (!target) return;
    target.textContent = text;
    target.hidden = !text;
  }

  function setBusy(form, busy) {
    for (const button of form.querySelectorAll("button")) button.disabled = busy;
    form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  /* ---- What the API refused, said per rule --------------------------------------------- */

  /** The problems of a refused answer: [{text, rules: [index…], field}] (field: a control of
   * the settings or simulation form the problem is about). */
  function problemsOf(result) {
    if (result.offline) return [{ text: citygrid.t("error.network"), rules: [] }];
    if (result.status === 403) return [{ text: citygrid.t("error.forbidden"), rules: [] }];
    if (result.status === 409) {
      return [{ text: citygrid.t("problem.effective_from"), rules: [], field: "effective_from" }];
    }
    const body = result.body || {};
    if (Array.isArray(body.problems)) return body.problems.map(namedProblem);
    if (Array.isArray(body.detail)) return body.detail.map(validationProblem);
    if (body.field === "to") return [{ text: citygrid.t("problem.period"), rules: [], field: "to" }];
    const detail = citygrid.apiErrors(body).map((error) => error.text).join(" ");
    return [{ text: fill("problem.other", { detail: detail }), rules: [] }];
  }

  /** A problem of a rejected set: "rules[3].department" or a conflict of two rules. */
  function namedProblem(problem) {
    const rules = problem.rules || [];
    if (rules.length === 2) {
      return { text: fill("problem.conflict", { first: rules[0] + 1, second: rules[1] + 1 }), rules: rules };
    }
    const field = String(problem.field || "").split(".").slice(1).join(".");
    return ruleProblem(rules[0], field);
  }

  function ruleProblem(index, field) {
    if (index === undefined) return { text: citygrid.t("problem.empty"), rules: [] };
    const key = NAMED_PROBLEMS.includes(field) ? "problem." + field : "problem.rule";
    return { text: fill(key, { rule: index + 1, field: field }), rules: [index] };
  }

  /** A validation error: its location names the rule and field, or a setting. */
  function validationProblem(entry) {
    const loc = (entry.loc || []).filter((part) => part !== "body" && part !== "rule_set");
    if (loc[0] === "rules") {
      return typeof loc[1] === "number" ? ruleProblem(loc[1], String(loc[2] || "")) : ruleProblem(undefined);
    }
    const field = String(loc[0] || "");
    const text = citygrid.apiErrors({ detail: [entry] })[0].text;
    return { text: text, rules: [], field: field };
  }

  /* ---- Versions pages: make an earlier version the one in force again ------------------- */

  function savedVersion(body) {
    citygrid.flash(fill("activate.done", { version: body.version }));
    window.location.assign("/admin/rules/" + body.version);
  }

  async function reactivate(event) {
    const form = event.target;
    if (!form.matches("form.js-reactivate")) return;
    event.preventDefault();
    const version = form.dataset.version;
    if (!window.confirm(fill("reactivate.confirm", { version: version }))) return;
    setBusy(form, true);
    showFormError(form, "");
    const shown = await citygrid.api("GET", "/api/dispatch/rules/" + encodeURIComponent(version));
    let result = shown;
    if (shown.ok) {
      const spec = Object.assign({}, shown.body.source, {
        effective_from: new Date().toISOString(),
        comment: fill("reactivate.comment", { version: version }),
      });
      result = await citygrid.api("POST", "/api/dispatch/rules", spec);
    }
    setBusy(form, false);
    if (result.ok && result.status === 201) {
      savedVersion(result.body);
    } else if (!result.ok) {
      showFormError(form, problemsOf(result).map((problem) => problem.text).join(" "));
    }
  }

  document.addEventListener("submit", reactivate);

  /* ---- The draft editor -------------------------------------------------------------- */

  const editor = document.getElementById("draft-editor");
  if (!editor) return;

  const base = jsonOf("draft-base") || { version: null, source: null };
  const choices = jsonOf("draft-choices") || { departments: [], categories: [], regions: [] };
  const offset = editor.dataset.utcOffset || "Z";
  const chinese = (document.documentElement.lang || "").startsWith("zh");
  const departments = new Map(choices.departments.map((item) => [item.code, item]));
  const categories = new Map(choices.categories.map((item) => [item.kind + ":" + item.code, item]));
  const regions = new Map(choices.regions.map((item) => [item.code, item]));
  const settingsForm = document.getElementById("draft-settings");
  const ruleEditor = document.getElementById("rule-editor");
  const ruleForm = document.getElementById("rule-form");
  const tableBody = document.querySelector("#rules-table tbody");
  const filterInput = document.getElementById("rules-filter");
  let draft = null;
  let page = 0;
  let editing = null; // {index: number|null, polygon: area|null}

  function freshDraft() {
    const source = base.source || {};
    return {
      base: base.version,
      settings: { effective_at: "", comment: "", auto_dispatch: (source.auto_dispatch || []).join(" ") },
      escalation: source.escalation,
      rules: (source.rules || []).map((rule, index) => ({ rule: rule, from: index, edited: false })),
    };
  }

  function storedDraft() {
    try {
      const stored = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
      return stored && stored.base === base.version && Array.isArray(stored.rules) ? stored : null;
    } catch (error) {
      return null;
    }
  }

  let keepWarned = false;
  function keep() {
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify(draft));
    } catch (error) {
      if (!keepWarned) citygrid.announce(citygrid.t("rules.not_kept"));
      keepWarned = true;
    }
  }

  /** The draft as the API takes it. */
  function spec() {
    const settings = draft.settings;
    const body = {
      effective_from: settings.effective_at ? settings.effective_at + ":00" + offset : new Date().toISOString(),
      auto_dispatch: settings.auto_dispatch.split(/[\s,，]+/).filter(Boolean),
      rules: draft.rules.map((entry) => entry.rule),
    };
    if (settings.comment.trim()) body.comment = settings.comment.trim();
    if (draft.escalation !== undefined && draft.escalation !== null) body.escalation = draft.escalation;
    return body;
  }

  /* Labels of a rule, from the page's choices. */

  function withCode(name, code) {
    if (!name || name === code) return code || name || "—";
    return chinese ? name + "（" + code + "）" : name + " (" + code + ")";
  }

  function categoryLabel(rule) {
    if (rule.category === "*") return citygrid.t("any_category");
    const kinds = rule.category_kind ? [rule.category_kind] : ["event", "component"];
    for (const kind of kinds) {
      const found = categories.get(kind + ":" + rule.category);
      if (found) return found.label;
    }
    return rule.category;
  }

  function areaKind(area) {
    return area === "citywide" ? "citywide" : Object.keys(area || {})[0] || "citywide";
  }

  function areaLabel(area) {
    const kind = areaKind(area);
    const value = kind === "citywide" ? null : area[kind];
    if (kind === "citywide") return fill("area.citywide");
    if (kind === "polygon") return citygrid.t("area.drawn");
    if (kind === "cells") return fill("area.cells", { count: value.length });
    if (kind === "cell") return fill("area.cell", { code: value });
    const region = regions.get(value);
    return fill("area." + kind, { place: withCode(region && region.name, value) });
  }

  function departmentLabel(code) {
    const department = departments.get(code);
    if (!department) return fill("rules.unknown", { code: code });
    return department.active ? department.name : fill("rules.inactive", { name: department.name });
  }

  function urgencyLabel(urgency) {
    return urgency ? citygrid.t("urgency." + urgency) : citygrid.t("any_urgency");
  }

  function cells(values) {
    return values.map((text) => {
      const cell = document.createElement("td");
      cell.textContent = text;
      return cell;
    });
  }

  function button(text, action, index) {
    const element = document.createElement("button");
    element.type = "button";
    element.textContent = text;
    element.dataset.action = action;
    element.dataset.index = String(index);
    return element;
  }

  /** The table row of the draft's rule `index`. */
  function ruleRow(entry, index) {
    const rule = entry.rule;
    const row = document.createElement("tr");
    row.dataset.index = String(index);
    const number = String(index + 1);
    const values = [number, categoryLabel(rule), areaLabel(rule.area), urgencyLabel(rule.urgency),
      String(rule.priority || 0), departmentLabel(rule.department), rule.name || ""];
    row.append(...cells(values));
    const badge = entry.from === null ? "rules.new" : entry.edited ? "rules.changed" : null;
    if (badge) {
      const mark = document.createElement("span");
      mark.className = "badge";
      mark.textContent = citygrid.t(badge);
      row.firstChild.append(" ", mark);
    }
    const actions = document.createElement("td");
    actions.append(button(citygrid.t("rules.edit"), "edit", index), " ",
      button(citygrid.t("rules.remove"), "remove", index));
    row.append(actions);
    return row;
  }

  function searchText(entry) {
    const rule = entry.rule;
    return [categoryLabel(rule), rule.category, areaLabel(rule.area), JSON.stringify(rule.area),
      departmentLabel(rule.department), rule.department, rule.name || ""].join(" ").toLowerCase();
  }

  function renderRules() {
    const words = filterInput.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const matching = [];
    draft.rules.forEach((entry, index) => {
      const text = words.length ? searchText(entry) : "";
      if (words.every((word) => text.includes(word))) matching.push(index);
    });
    const pages = Math.max(1, Math.ceil(matching.length / PAGE_SIZE));
    page = Math.min(page, pages - 1);
    const shown = matching.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
    tableBody.replaceChildren(...shown.map((index) => ruleRow(draft.rules[index], index)));
    const range = document.getElementById("rules-range");
    range.textContent = matching.length
      ? fill("rules.range", { first: page * PAGE_SIZE + 1, last: page * PAGE_SIZE + shown.length, total: matching.length })
      : citygrid.t("rules.none");
    document.getElementById("rules-prev").disabled = page === 0;
    document.getElementById("rules-next").disabled = page >= pages - 1;
    renderSummary();
  }

  function renderSummary() {
    const summary = document.getElementById("draft-summary");
    if (base.version === null) {
      summary.textContent = "";
      return;
    }
    const kept = draft.rules.filter((entry) => entry.from !== null);
    summary.textContent = fill("rules.summary", {
      version: base.version,
      added: draft.rules.length - kept.length,
      changed: kept.filter((entry) => entry.edited).length,
      removed: ((base.source && base.source.rules) || []).length - kept.length,
    });
  }

  function fillSettings() {
    for (const [name, value] of Object.entries(draft.settings)) {
      const control = settingsForm.elements[name];
      if (control) control.value = value;
    }
  }

  function settingsChanged(event) {
    const control = event.target;
    if (!control.name || !(control.name in draft.settings)) return;
    draft.settings[control.name] = control.value;
    keep();
  }

  /* The rule form. */

  function showAreaChoice(kind) {
    for (const choice of ruleForm.querySelectorAll(".area-choice")) {
      choice.hidden = !choice.dataset.areaKind.split(" ").includes(kind);
    }
  }

  /** A select's value, adding an option for a value it lacks (a retired category, an
   * inactive department) so that editing a rule never changes it silently. */
  function choose(select, value, label) {
    if (![...select.options].some((option) => option.value === value)) {
      select.add(new Option(label, value));
    }
    select.value = value;
  }

  function openRule(index) {
    const rule = index === null ? { category: "*", area: "citywide", department: "", priority: 0 } : draft.rules[index].rule;
    const kind = areaKind(rule.area);
    editing = { index: index, polygon: kind === "polygon" ? rule.area : null };
    citygrid.clearErrors(ruleForm);
    showFormError(ruleForm, "");
    const categoryValue = rule.category === "*" ? "*" : (rule.category_kind || "event") + ":" + rule.category;
    choose(ruleForm.elements.category, categoryValue, categoryLabel(rule));
    ruleForm.elements.urgency.value = rule.urgency || "";
    const kindSelect = ruleForm.elements.area_kind;
    kindSelect.querySelector('option[value="polygon"]').disabled = kind !== "polygon";
    kindSelect.value = kind;
    if (REGION_KINDS.includes(kind)) {
      choose(document.getElementById("rule-" + kind), rule.area[kind], rule.area[kind]);
    }
    const codes = kind === "cells" ? rule.area.cells : kind === "cell" ? [rule.area.cell] : [];
    document.getElementById("rule-cells").value = codes.join(" ");
    document.getElementById("rule-polygon-note").textContent = citygrid.t("rules.polygon_kept");
    showAreaChoice(kind);
    ruleForm.elements.priority.value = String(rule.priority || 0);
    if (rule.department) choose(ruleForm.elements.department, rule.department, departmentLabel(rule.department));
    ruleForm.elements.name.value = rule.name || "";
    const title = document.getElementById("rule-form-title");
    title.textContent = index === null ? citygrid.t("rules.adding") : fill("rules.editing", { number: index + 1 });
    ruleEditor.hidden = false;
    title.focus();
  }

  function closeRule() {
    ruleEditor.hidden = true;
    editing = null;
  }

  function missing(field) {
    return { type: "missing", loc: ["body", field] };
  }

  /** The rule the form describes, or the errors of the fields it lacks. */
  function ruleOfForm() {
    const form = ruleForm.elements;
    const kind = form.area_kind.value;
    const rule = { category: "*", area: "citywide", priority: Number(form.priority.value || 0), department: form.department.value };
    const errors = [];
    if (form.category.value !== "*") {
      const [categoryKind, code] = form.category.value.split(":");
      rule.category = code;
      rule.category_kind = categoryKind;
    }
    if (REGION_KINDS.includes(kind)) {
      const value = document.getElementById("rule-" + kind).value;
      if (!value) errors.push(missing("area"));
      rule.area = { [kind]: value };
    } else if (kind === "cell" || kind === "cells") {
      const codes = document.getElementById("rule-cells").value.split(/[\s,，]+/).filter(Boolean);
      if (!codes.length) errors.push(missing("area"));
      rule.area = kind === "cell" && codes.length === 1 ? { cell: codes[0] } : { cells: codes };
    } else if (kind === "polygon") {
      rule.area = editing.polygon;
    }
    if (form.urgency.value) rule.urgency = form.urgency.value;
    if (form.name.value.trim()) rule.name = form.name.value.trim();
    if (!rule.department) errors.push(missing("department"));
    if (!Number.isInteger(rule.priority)) errors.push({ type: "int_parsing", loc: ["body", "priority"] });
    return { rule: rule, errors: errors };
  }

  function saveRule(event) {
    event.preventDefault();
    const made = ruleOfForm();
    if (made.errors.length) {
      citygrid.showErrors(ruleForm, { detail: made.errors });
      return;
    }
    if (editing.index === null) {
      draft.rules.push({ rule: made.rule, from: null, edited: false });
      page = Math.floor((draft.rules.length - 1) / PAGE_SIZE);
      filterInput.value = "";
    } else {
      draft.rules[editing.index].rule = made.rule;
      draft.rules[editing.index].edited = true;
    }
    keep();
    closeRule();
    renderRules();
  }

  function tableAction(event) {
    const target = event.target.closest("button[data-action]");
    if (!target) return;
    const index = Number(target.dataset.index);
    if (target.dataset.action === "edit") {
      openRule(index);
    } else if (target.dataset.action === "remove") {
      draft.rules.splice(index, 1);
      if (editing && editing.index !== null) closeRule();
      keep();
      renderRules();
    }
  }

  /** Show a rule that a problem names: find it, open it. */
  function editProblemRule(event) {
    const target = event.target.closest("button[data-rule]");
    if (!target) return;
    filterInput.value = "";
    const index = Number(target.dataset.rule);
    page = Math.floor(index / PAGE_SIZE);
    renderRules();
    openRule(index);
  }

  /* Problems, simulation, activation. */

  function showProblems(problems, fieldForm) {
    const list = document.getElementById("draft-problems");
    list.replaceChildren();
    const fieldErrors = [];
    for (const problem of problems) {
      if (problem.field && fieldForm.querySelector('[data-field="' + CSS.escape(problem.field) + '"]')) {
        fieldErrors.push({ field: problem.field, text: problem.text });
        continue;
      }
      const item = document.createElement("li");
      item.textContent = problem.text + " ";
      for (const index of problem.rules) {
        item.append(button(fill("rules.editing", { number: index + 1 }), "", index));
        item.lastChild.dataset.rule = String(index);
        item.append(" ");
      }
      list.append(item);
    }
    document.getElementById("draft-problems-box").hidden = list.children.length === 0;
    citygrid.clearErrors(fieldForm);
    for (const error of fieldErrors) {
      const wrapper = fieldForm.querySelector('[data-field="' + CSS.escape(error.field) + '"]');
      const target = wrapper.querySelector(".field-error");
      target.textContent = error.text;
      target.hidden = false;
    }
    if (list.children.length) list.closest("section").scrollIntoView({ block: "nearest" });
  }

  function clearProblems() {
    document.getElementById("draft-problems").replaceChildren();
    document.getElementById("draft-problems-box").hidden = true;
  }

  function dayAfter(day) {
    const [year, month, date] = day.split("-").map(Number);
    return new Date(Date.UTC(year, month - 1, date + 1)).toISOString().slice(0, 10);
  }

  async function simulate(event) {
    event.preventDefault();
    const form = event.target;
    const fields = form.elements;
    citygrid.clearErrors(form);
    clearProblems();
    const body = {
      rule_set: spec(),
      from: fields.from.value ? fields.from.value + "T00:00:00" + offset : "",
      to: fields.to.value ? dayAfter(fields.to.value) + "T00:00:00" + offset : "",
      examples_per_pair: Number(fields.examples_per_pair.value || 0),
    };
    setBusy(form, true);
    citygrid.announce(citygrid.t("sim.running"));
    const result = await citygrid.api("POST", "/api/dispatch/rules/simulate", body);
    setBusy(form, false);
    citygrid.announce("");
    if (!result.ok) {
      showProblems(problemsOf(result), form);
      return;
    }
    showSimulation(result.body);
  }

  function showSimulation(report) {
    const box = document.getElementById("simulation-result");
    for (const slot of box.querySelectorAll("[data-total]")) {
      slot.textContent = String(report[slot.dataset.total]);
    }
    const nobody = citygrid.t("sim.nobody");
    const rows = report.pairs.map((pair) => {
      const row = document.createElement("tr");
      row.append(...cells([
        pair.from_department ? departmentLabel(pair.from_department) : nobody,
        pair.to_department ? departmentLabel(pair.to_department) : nobody,
        String(pair.cases),
        pair.examples.join(chinese ? "、" : ", "),
      ]));
      return row;
    });
    box.querySelector("#simulation-pairs tbody").replaceChildren(...rows);
    box.querySelector("#simulation-pairs").hidden = rows.length === 0;
    document.getElementById("simulation-none").hidden = rows.length > 0;
    box.hidden = false;
  }

  async function activate(event) {
    event.preventDefault();
    const form = event.target;
    const when = draft.settings.effective_at ? draft.settings.effective_at.replace("T", " ") : citygrid.t("activate.now");
    if (!window.confirm(fill("activate.confirm", { when: when }))) return;
    clearProblems();
    showFormError(form, "");
    setBusy(form, true);
    citygrid.announce(citygrid.t("activate.running"));
    const result = await citygrid.api("POST", "/api/dispatch/rules", spec());
    setBusy(form, false);
    citygrid.announce("");
    if (!result.ok) {
      showProblems(problemsOf(result), settingsForm);
      return;
    }
    localStorage.removeItem(STORE_KEY);
    savedVersion(result.body);
  }

  function discard() {
    if (!window.confirm(fill("discard.confirm", { version: base.version || "—" }))) return;
    localStorage.removeItem(STORE_KEY);
    draft = freshDraft();
    page = 0;
    filterInput.value = "";
    closeRule();
    clearProblems();
    fillSettings();
    renderRules();
  }

  draft = storedDraft();
  if (draft) {
    citygrid.announce(citygrid.t("rules.restored"));
  } else {
    draft = freshDraft();
  }
  fillSettings();
  renderRules();

  settingsForm.addEventListener("input", settingsChanged);
  settingsForm.addEventListener("submit", (event) => event.preventDefault());
  filterInput.addEventListener("input", () => { page = 0; renderRules(); });
  document.getElementById("rules-prev").addEventListener("click", () => { page -= 1; renderRules(); });
  document.getElementById("rules-next").addEventListener("click", () => { page += 1; renderRules(); });
  document.getElementById("rule-add").addEventListener("click", () => openRule(null));
  document.getElementById("rule-cancel").addEventListener("click", closeRule);
  ruleForm.elements.area_kind.addEventListener("change", (event) => showAreaChoice(event.target.value));
  ruleForm.addEventListener("submit", saveRule);
  tableBody.addEventListener("click", tableAction);
  document.getElementById("draft-problems").addEventListener("click", editProblemRule);
  document.getElementById("simulate-form").addEventListener("submit", simulate);
  document.getElementById("activate-form").addEventListener("submit", activate);
  document.getElementById("draft-discard").addEventListener("click", discard);
})();
