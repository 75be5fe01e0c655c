// The search preview page: builds a GET search from the form, renders hits, facets and
// pages from the API's answer. Plain JavaScript, no dependencies, nothing loaded from
// elsewhere; the key stays in this browser's localStorage.
"use strict";

const PER_PAGE = 10;
const TYPES = {
  products: {
    facets: ["categories", "options", "tags", "has_stock", "price"],
    sorts: [["relevance", "relevance"], ["price:asc", "price ↑"], ["price:desc", "price ↓"],
            ["title:asc", "title A–Z"], ["created_at:desc", "newest"]],
  },
  content: {
    facets: ["kind", "categories", "tags", "author"],
    sorts: [["relevance", "relevance"], ["published_at:desc", "newest"],
            ["published_at:asc", "oldest"], ["title:asc", "title A–Z"]],
  },
};
const FACET_TITLES = { has_stock: "stock", price: "price range" };
const $ = (id) => document.getElementById(id);
const state = { type: "products", page: 1, ticked: {}, seq: 0, labels: {}, values: {} };

function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// highlights come escaped from the API with <mark> around matches: keep only those tags
function marked(html) {
  return String(html ?? "").replace(/<(?!\/?mark>)/g, "&lt;");
}

function money(minor, currency) {
  return (minor / 100).toLocaleString(undefined, { style: "currency", currency });
}

function facetLabel(facet, value) {
  if (facet === "has_stock") return value === "true" ? "in stock" : "out of stock";
  if (facet === "price") {
    const [low, high] = value.split(/-|\+/);
    const cur = $("currency").value;
    return high ? `${money(+low, cur)} – ${money(+high, cur)}` : `${money(+low, cur)} and more`;
  }
  const shown = (state.values[facet] || []).find((v) => v.value === value);
  if (shown && shown.option) return `${shown.option}: ${shown.label}`;
  const label = (state.labels[facet] || {})[value];
  if (label) return label;
  // an id the index has no name for: its distinct end (ULIDs share their time prefix), the
  // full id on hover
  return /^[0-9a-f-]{36}$/.test(value) ? "…" + value.slice(-12) : value;
}

function query() {
  const params = new URLSearchParams();
  const q = $("q").value.trim();
  if (q) params.set("q", q);
  params.set("facets", TYPES[state.type].facets.join(","));
  params.set("sort", $("sort").value);
  params.set("page", state.page);
  params.set("per_page", PER_PAGE);
  params.set("highlight", "true");
  for (const [facet, values] of Object.entries(state.ticked)) {
    const list = [...values];
    if (!list.length || facet === "price") continue;
    if (facet === "has_stock") {
      if (list.length === 1) params.set("filter.has_stock", list[0]);
    } else {
      params.set(`filter.${facet}`, list.join(","));
    }
  }
  if (state.type === "products") {
    params.set("currency", $("currency").value);
    if ($("in-stock").checked) params.set("filter.has_stock", "true");
    for (const bound of ["min", "max"]) {
      const value = $(bound).value;
      if (value !== "") params.set(`filter.price.${bound}`, Math.round(parseFloat(value) * 100));
    }
  }
  return `/v1/search/${state.type}?${params}`;
}

async function search() {
  const key = $("key").value.trim();
  if (!key) return;
  const seq = ++state.seq;
  const url = query();
  let body;
  let response;
  try {
    response = await fetch(url, { headers: { Authorization: `Bearer ${key}` } });
    body = await response.json();
  } catch (err) {
    if (seq === state.seq) showError(`the API did not answer: ${err}`);
    return;
  }
  if (seq !== state.seq) return; // an older answer arriving after a newer one
  if (!response.ok) return showError(body.detail || body.title || response.status);
  render(body);
  suggest(key, seq);
}

// titles that start with the words typed so far: the search itself matches whole words
async function suggest(key, seq) {
  const q = $("q").value.trim();
  const params = new URLSearchParams({ q, type: state.type, limit: 5 });
  let found = [];
  if (q) {
    try {
      const response = await fetch(`/v1/suggest?${params}`,
        { headers: { Authorization: `Bearer ${key}` } });
      if (response.ok) found = (await response.json()).suggestions;
    } catch (err) { /* suggestions are optional */ }
  }
  if (seq !== state.seq) return;
  $("suggestions").innerHTML = found.map((s) =>
    `<button type="button" data-title="${escapeHtml(s.title)}">${marked(s.highlighted)}</button>`)
    .join("");
}

function showError(text) {
  $("status").className = "status error";
  $("status").textContent = text;
  $("hits").replaceChildren();
}

function render(body) {
  const pages = Math.max(1, Math.ceil(body.total / body.per_page));
  $("status").className = "status";
  $("status").innerHTML = `<span id="total">${body.total}</span> results · ` +
    `<span id="took">${body.took_ms.toFixed(1)}</span> ms · ${escapeHtml(body.backend)}` +
    (body.stale ? ' · <span class="stale">stale: the index is catching up</span>' : "");
  $("hits").innerHTML = body.hits.map(state.type === "products" ? productHit : contentHit)
    .join("");
  $("page").textContent = `page ${body.page} of ${pages}`;
  $("prev").disabled = body.page <= 1;
  $("next").disabled = body.page >= pages;
  state.labels = body.facet_labels || {};
  state.values = body.facet_values || {};
  renderFacets(body.facets || {});
}

function productHit(hit) {
  const doc = hit.document;
  const cur = $("currency").value;
  const price = doc.prices[cur];
  const shown = price ? (price.min === price.max ? money(price.min, cur)
    : `${money(price.min, cur)} – ${money(price.max, cur)}`) : `no ${cur} price`;
  const text = hit.highlights.description || escapeHtml(doc.description);
  // the card fields: category names and option values (the thumbnail URL is not loaded:
  // this page loads nothing from elsewhere)
  const categories = (doc.categories || []).map((c) => escapeHtml(c.name)).join(", ");
  const options = (doc.options || []).map((o) =>
    `${escapeHtml(o.option)}: ${o.values.map(escapeHtml).join(" / ")}`).join(" · ");
  return `<li class="hit" data-id="${doc.id}">
    <div class="hit-title">${marked(hit.highlights.title || escapeHtml(doc.title))}</div>
    <div class="text">${marked(text)}</div>
    <div class="meta"><span class="price" data-min="${price ? price.min : ""}">${shown}</span>
      <span class="badge ${doc.has_stock ? "" : "out"}">${doc.has_stock ? "in stock"
        : "out of stock"}</span>
      <span class="categories">${categories}</span><span class="options">${options}</span>
      <span>${doc.tags.map(escapeHtml).join(", ")}</span></div></li>`;
}

function contentHit(hit) {
  const doc = hit.document;
  const text = hit.highlights.body_preview || escapeHtml(doc.excerpt || doc.body_preview);
  return `<li class="hit" data-id="${doc.id}">
    <div class="hit-title">${marked(hit.highlights.title || escapeHtml(doc.title || "(comment)"))}
    </div><div class="text">${marked(text)}</div>
    <div class="meta"><span class="badge">${escapeHtml(doc.kind)}</span>
      <span>${escapeHtml(doc.author_name)}</span>
      <span>${doc.published_at ? doc.published_at.slice(0, 10) : "unpublished"}</span>
      <span>${doc.tags.map(escapeHtml).join(", ")}</span></div></li>`;
}

function renderFacets(facets) {
  const boxes = TYPES[state.type].facets.filter((name) => name in facets).map((name) => {
    const ticked = state.ticked[name] || new Set();
    // the API's order (price buckets by amount, other values by count, then name), from the
    // list: an object's integer-like keys would come out in numeric order
    const values = state.values[name] ? state.values[name].map((v) => [v.value, v.count])
      : Object.entries(facets[name]);
    const rows = values.map(([value, count]) => `<label title="${escapeHtml(value)}">
      <input type="checkbox" data-facet="${name}" value="${escapeHtml(value)}"
        ${ticked.has(value) ? "checked" : ""}>
      <span class="value">${escapeHtml(facetLabel(name, value))}</span>
      <span class="count">${count}</span></label>`).join("");
    return `<div class="facet" data-facet="${name}"><h3>${FACET_TITLES[name] || name}</h3>
      ${rows || '<span class="count">none</span>'}</div>`;
  });
  $("facets").innerHTML = boxes.join("");
}

// a price bucket fills the price range; other facets filter by their ticked values
function onFacet(event) {
  const box = event.target;
  if (!box.dataset || !box.dataset.facet) return;
  const facet = box.dataset.facet;
  if (facet === "price") {
    const [low, high] = box.value.split(/-|\+/);
    $("min").value = box.checked ? (+low / 100).toFixed(2) : "";
    $("max").value = box.checked && high ? (+high / 100 - 0.01).toFixed(2) : "";
  }
  const ticked = (state.ticked[facet] ||= new Set());
  if (box.checked) ticked.add(box.value); else ticked.delete(box.value);
  restart();
}

function setType(type) {
  state.type = type;
  state.ticked = {};
  $("sort").innerHTML = TYPES[type].sorts
    .map(([value, label]) => `<option value="${value}">${label}</option>`).join("");
  $("product-filters").hidden = type !== "products";
}

let timer = 0;
function restart() {
  state.page = 1;
  clearTimeout(timer);
  timer = setTimeout(search, 150);
}

function init() {
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fromUrl) {
    localStorage.setItem("rustok-key", fromUrl);
    history.replaceState(null, "", location.pathname);
  }
  $("key").value = localStorage.getItem("rustok-key") || "";
  setType("products");
  $("key").addEventListener("input", () => {
    localStorage.setItem("rustok-key", $("key").value.trim());
    restart();
  });
  $("type").addEventListener("change", () => { setType($("type").value); restart(); });
  for (const id of ["q", "min", "max"]) $(id).addEventListener("input", restart);
  for (const id of ["sort", "currency", "in-stock"]) $(id).addEventListener("change", restart);
  $("facets").addEventListener("change", onFacet);
  $("suggestions").addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (button) { $("q").value = button.dataset.title; restart(); }
  });
  $("prev").addEventListener("click", () => { state.page -= 1; search(); });
  $("next").addEventListener("click", () => { state.page += 1; search(); });
  search();
}

init();
