// The book's latent explorer: a trained decoder (ONNX, run by onnxruntime-web's WASM build,
// both served by the book itself) decodes any point of a 2-d plane of the latent space while
// the reader drags it. For an eVAE the plane is an epitome's two units; for a VAE, two chosen
// units with the others at 0. Each `<div class="evae-explorer" data-name=... data-base=...>`
// of a page becomes one explorer; its files are data-base + "decoders/<name>.{onnx,json}".
//
// For tests, window.evaeExplorers[name] = {ready, set(u, v, choice), pixels(), meta}.

const ORT = new URL("../onnxruntime/", import.meta.url).href;
const LIM = 3; // the pad spans [-LIM, LIM] on both axes
const GRID = 8; // the manifold grid: GRID x GRID points at Gaussian quantiles 5% ... 95%

window.evaeExplorers = window.evaeExplorers || {};

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "style") e.style.cssText = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

// Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9),
// for the manifold grid's Gaussian quantiles, as evae_lite.book.interactive.manifold_grid_z.
function probit(p) {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269,
    -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972,
    -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838,
    -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) return -probit(1 - p);
  const q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

const QUANTILES = Array.from({ length: GRID }, (_, i) => probit(0.05 + (0.9 * i) / (GRID - 1)));

function gaussian() {
  const u = 1 - Math.random(), v = Math.random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

// Draw decoder means x in [0, 1] as ink: 1 is black on white, as the book's figures.
function drawImages(ctx, x, n, h, w, ncol) {
  const img = ctx.createImageData(ncol * w, Math.ceil(n / ncol) * h);
  for (let i = 0; i < n; i++) {
    const r0 = Math.floor(i / ncol) * h, c0 = (i % ncol) * w;
    for (let p = 0; p < h * w; p++) {
      const g = Math.round(255 * (1 - Math.min(1, Math.max(0, x[i * h * w + p]))));
      const o = 4 * ((r0 + Math.floor(p / w)) * ncol * w + c0 + (p % w));
      img.data[o] = img.data[o + 1] = img.data[o + 2] = g;
      img.data[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}

async function start(root, api) {
  const name = root.dataset.name;
  const base = new URL(root.dataset.base, document.baseURI).href;
  // the line a notebook's output may carry for where this script does not run
  const status = root.querySelector(".evae-explorer-status") ||
    root.appendChild(el("p", { class: "evae-explorer-status" }));
  status.textContent = "Loading the decoder…";
  const t0 = performance.now();
  let ort, session, meta;
  try {
    ort = await import(ORT + "ort.wasm.min.mjs");
    ort.env.wasm.numThreads = 1; // no cross-origin isolation needed
    ort.env.wasm.wasmPaths = ORT;
    const res = await fetch(`${base}decoders/${name}.json`);
    if (!res.ok) throw new Error(`no description of ${name} (HTTP ${res.status})`);
    meta = await res.json();
    session = await ort.InferenceSession.create(`${base}decoders/${name}.onnx`, {
      executionProviders: ["wasm"],
    });
  } catch (err) {
    status.textContent = `The live explorer could not start (${err.message || err}). ` +
      "The sliders above show the same manifolds from pre-rendered frames.";
    root.classList.add("evae-explorer-failed");
    throw err;
  }
  api.meta = meta;
  const [h, w] = meta.image_shape, D = meta.D;
  const state = { u: 0, v: 0, choice: 0, units: null };

  // controls: the epitome (eVAE) or the two units (VAE)
  const controls = el("div", { style: "display:flex;gap:1em;align-items:center;flex-wrap:wrap" });
  let pick;
  if (meta.model === "evae") {
    pick = el("select", { "aria-label": "epitome" });
    meta.epitomes.forEach((e, y) =>
      pick.append(el("option", { value: y }, `epitome y = ${y + 1} (${e.examples.toLocaleString()} examples)`)));
    controls.append(el("label", {}, "Epitome ", pick));
  } else {
    pick = [0, 1].map((k) => {
      const s = el("select", { "aria-label": `unit ${k + 1}` });
      meta.units.forEach((u) =>
        s.append(el("option", { value: u }, `z_${u + 1} (activity ${meta.activity[u]})`)));
      s.value = meta.units[k];
      controls.append(el("label", {}, k ? "vertical " : "horizontal ", s));
      return s;
    });
  }
  const sample = el("button", { type: "button" }, "sample z ~ N(0, I)");
  controls.append(sample);
  const sliders = [0, 1].map((k) =>
    el("input", { type: "range", min: -LIM, max: LIM, step: 0.01, value: 0,
      "aria-label": k ? "second coordinate" : "first coordinate" }));
  controls.append(...sliders);

  const pad = el("canvas", { width: 200, height: 200, class: "evae-explorer-pad",
    style: "border:1px solid #999;cursor:crosshair;touch-action:none" });
  const image = el("canvas", { width: w, height: h, class: "evae-explorer-image",
    style: `width:${6 * w}px;height:${6 * h}px;image-rendering:pixelated;border:1px solid #999` });
  const grid = el("canvas", { width: GRID * w, height: GRID * h, class: "evae-explorer-grid",
    style: `width:${3 * GRID * w}px;image-rendering:pixelated;border:1px solid #999` });
  const gridMark = el("div", { style: "position:relative;display:inline-block" }, grid);
  const mark = el("div", { style: "position:absolute;border:2px solid #d62728;pointer-events:none" });
  gridMark.append(mark);
  const panes = el("div", { style: "display:flex;gap:1.5em;align-items:flex-start;flex-wrap:wrap" },
    pad, image, gridMark);
  root.append(controls, panes);

  function planeUnits() {
    if (meta.model === "evae") return meta.epitomes[state.choice].units;
    return state.units;
  }

  async function decode(points) { // points: [[u, v], ...] on the current plane
    const [a, b] = planeUnits();
    const z = new Float32Array(points.length * D);
    points.forEach(([u, v], i) => { z[i * D + a] = u; z[i * D + b] = v; });
    const out = await session.run({ z: new ort.Tensor("float32", z, [points.length, D]) });
    return out.x.data;
  }

  function drawPad() {
    const g = pad.getContext("2d"), s = pad.width / (2 * LIM);
    g.clearRect(0, 0, pad.width, pad.height);
    g.strokeStyle = "#ccc";
    g.beginPath();
    g.moveTo(pad.width / 2, 0); g.lineTo(pad.width / 2, pad.height);
    g.moveTo(0, pad.height / 2); g.lineTo(pad.width, pad.height / 2);
    g.stroke();
    g.fillStyle = "#d62728";
    g.beginPath();
    g.arc((state.u + LIM) * s, (LIM - state.v) * s, 5, 0, 2 * Math.PI);
    g.fill();
  }

  function placeMark() { // the dragged point on the manifold grid (clipped to its range)
    const q0 = QUANTILES[0], q1 = QUANTILES[GRID - 1];
    const px = (t) => Math.min(1, Math.max(0, (t - q0) / (q1 - q0)));
    const cw = grid.clientWidth / GRID, ch = grid.clientHeight / GRID;
    mark.style.width = `${cw}px`;
    mark.style.height = `${ch}px`;
    // the grid is row-major with the first coordinate along rows, as epitome_manifold draws it
    mark.style.top = `${px(state.u) * (GRID - 1) * ch - 2}px`;
    mark.style.left = `${px(state.v) * (GRID - 1) * cw - 2}px`;
  }

  let pending = null, busy = false;
  async function update() { // decode the point; coalesce the drags that arrive meanwhile
    pending = [state.u, state.v];
    if (busy) return;
    busy = true;
    while (pending) {
      const p = pending;
      pending = null;
      drawImages(image.getContext("2d"), await decode([p]), 1, h, w, 1);
    }
    busy = false;
    drawPad();
    placeMark();
    sliders[0].value = state.u;
    sliders[1].value = state.v;
  }

  async function drawGrid() {
    const pts = [];
    for (const a of QUANTILES) for (const b of QUANTILES) pts.push([a, b]);
    drawImages(grid.getContext("2d"), await decode(pts), pts.length, h, w, GRID);
  }

  async function choose() {
    if (meta.model === "evae") state.choice = Number(pick.value);
    else state.units = pick.map((s) => Number(s.value));
    await drawGrid();
    await update();
  }

  function fromPointer(ev) {
    const r = pad.getBoundingClientRect();
    state.u = Math.min(LIM, Math.max(-LIM, ((ev.clientX - r.left) / r.width) * 2 * LIM - LIM));
    state.v = Math.min(LIM, Math.max(-LIM, LIM - ((ev.clientY - r.top) / r.height) * 2 * LIM));
    update();
  }
  let dragging = false;
  pad.addEventListener("pointerdown", (ev) => { dragging = true; pad.setPointerCapture(ev.pointerId); fromPointer(ev); });
  pad.addEventListener("pointermove", (ev) => { if (dragging) fromPointer(ev); });
  pad.addEventListener("pointerup", () => { dragging = false; });
  sliders.forEach((s, k) => s.addEventListener("input", () => {
    state[k ? "v" : "u"] = Number(s.value);
    update();
  }));
  sample.addEventListener("click", () => { state.u = gaussian(); state.v = gaussian(); update(); });
  (Array.isArray(pick) ? pick : [pick]).forEach((s) => s.addEventListener("change", choose));

  await choose();
  const ms = performance.now() - t0;
  status.textContent = `Decoding in your browser: ${meta.model === "evae" ? "an eVAE" : "a VAE"} ` +
    `with D = ${D}, trained at ${meta.setting.split(":")[0]}. Drag the point, or use the sliders.`;
  api.firstImageMs = ms;
  api.set = async (u, v, choice) => {
    if (choice !== undefined) {
      if (Array.isArray(pick)) pick.forEach((s, k) => { s.value = choice[k]; });
      else pick.value = choice;
      await choose();
    }
    state.u = u;
    state.v = v;
    await update();
    while (busy || pending) await new Promise((r) => setTimeout(r, 5)); // drawn, not queued
  };
  api.pixels = () => Array.from(image.getContext("2d").getImageData(0, 0, w, h).data);
  return api;
}

for (const root of document.querySelectorAll(".evae-explorer")) {
  const api = { meta: null };
  window.evaeExplorers[root.dataset.name] = api;
  api.ready = start(root, api);
  api.ready.catch(() => {}); // the status line says what failed
}
