// The report's gallery: pairs come from the JSON embedded in the page and are drawn one page at
// a time, so that a job of thousands of pairs costs one JSON parse, not thousands of elements.
(() => {
  const data = JSON.parse(document.getElementById('report-data').textContent);
  const THUMB = 160; // display box of a thumbnail, in CSS pixels
  const SVG = 'http://www.w3.org/2000/svg';
  const $ = (id) => document.getElementById(id);
  const cards = $('cards');
  const state = { filter: 'all', search: '', page: 0 };
  let shown = data.pairs;

  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  function thumb(pair) {
    const box = el('div', 'thumb');
    if (!pair.image) {
      box.append(el('span', 'noimage', 'no image'));
      return box;
    }
    // Image and masks share one box of the image's aspect ratio, so overlays line up pixel for pixel.
    const scale = THUMB / Math.max(pair.image.width, pair.image.height);
    const frame = el('div', 'frame');
    frame.style.width = `${Math.round(pair.image.width * scale)}px`;
    frame.style.height = `${Math.round(pair.image.height * scale)}px`;
    const img = el('img', 'image');
    img.src = pair.image.src;
    img.alt = pair.id;
    frame.append(img);
    for (const overlay of pair.overlays ?? []) frame.append(overlay.src ? picture(overlay) : boxes(overlay));
    box.append(frame);
    return box;
  }

  // A mask, class map or heat map: a transparent picture of the thumbnail's size.
  function picture(overlay) {
    const img = el('img', 'mask');
    img.src = overlay.src;
    img.alt = '';
    img.dataset.task = overlay.task;
    return img;
  }

  // Detections: boxes in the original image's pixels, scaled by the SVG's viewBox.
  function boxes(overlay) {
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'mask boxes');
    svg.setAttribute('viewBox', `0 0 ${overlay.width} ${overlay.height}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.dataset.task = overlay.task;
    const stroke = Math.max(overlay.width, overlay.height) / 80;
    for (const b of overlay.boxes) {
      const rect = document.createElementNS(SVG, 'rect');
      for (const [k, v] of Object.entries({ x: b.x, y: b.y, width: b.width, height: b.height }))
        rect.setAttribute(k, v);
      rect.setAttribute('fill', 'none');
      rect.setAttribute('stroke', overlay.color);
      rect.setAttribute('stroke-width', stroke);
      const title = document.createElementNS(SVG, 'title');
      title.textContent = b.label;
      rect.append(title);
      const text = document.createElementNS(SVG, 'text');
      text.setAttribute('x', b.x + stroke);
      text.setAttribute('y', b.y + 5 * stroke);
      text.setAttribute('fill', overlay.color);
      text.setAttribute('font-size', 5 * stroke);
      text.textContent = b.label;
      svg.append(rect, text);
    }
    return svg;
  }

  function card(pair) {
    const node = el('article', `card ${pair.status}${pair.wrong ? ' wrong' : ''}`);
    node.dataset.id = pair.id;
    node.append(thumb(pair), el('h3', 'id', pair.id));
    node.append(el('p', 'caption', pair.text ?? '(no caption)'));
    if (pair.error) {
      const err = el('p', 'error');
      err.append(el('code', '', pair.error.code), el('span', '', ` ${pair.error.message}`));
      node.append(err);
      return node;
    }
    const list = el('ul', 'tasks');
    for (const t of pair.tasks) {
      const item = el('li', t.ok === undefined ? '' : t.ok ? 'right' : 'wrongtask');
      item.dataset.task = t.task;
      if (t.detail) item.title = t.detail;
      item.append(el('span', 'mark', t.ok === undefined ? '' : t.ok ? '✓' : '✗'));
      item.append(el('span', 'task', t.task), el('span', 'pred', t.text));
      if (t.expected !== undefined) item.append(el('span', 'expected', `expected ${t.expected}`));
      list.append(item);
    }
    node.append(list);
    return node;
  }

  function select() {
    const q = state.search.toLowerCase();
    shown = data.pairs.filter(
      (p) =>
        (state.filter === 'all' || (state.filter === 'error' ? p.status === 'error' : p.wrong === true)) &&
        (!q || p.id.toLowerCase().includes(q) || (p.text ?? '').toLowerCase().includes(q)),
    );
  }

  function render() {
    const pages = Math.max(1, Math.ceil(shown.length / data.pageSize));
    state.page = Math.min(Math.max(0, state.page), pages - 1);
    const start = state.page * data.pageSize;
    const slice = shown.slice(start, start + data.pageSize);
    cards.replaceChildren(...slice.map(card));
    $('page-info').textContent = shown.length
      ? `${start + 1}–${start + slice.length} of ${shown.length} · page ${state.page + 1} of ${pages}`
      : 'no pairs';
    $('prev').disabled = state.page === 0;
    $('next').disabled = state.page >= pages - 1;
  }

  const go = (page) => {
    state.page = page;
    render();
  };
  $('prev').addEventListener('click', () => go(state.page - 1));
  $('next').addEventListener('click', () => go(state.page + 1));
  $('filter').addEventListener('change', (e) => {
    state.filter = e.target.value;
    select();
    go(0);
  });
  $('search').addEventListener('input', (e) => {
    state.search = e.target.value.trim();
    select();
    go(0);
  });
  $('show-masks').addEventListener('change', (e) => {
    document.body.classList.toggle('nomasks', !e.target.checked);
  });
  document.addEventListener('keydown', (e) => {
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
    if (e.key === 'ArrowRight') go(state.page + 1);
    if (e.key === 'ArrowLeft') go(state.page - 1);
  });
  render();
})();
