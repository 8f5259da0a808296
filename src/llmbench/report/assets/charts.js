/* llmbench charts: draws the Vega-Lite specs of llmbench.report.charts.chart_specs with
   vega-embed. Shared by report.html and `llmbench view`; needs vega, vega-lite and vega-embed
   loaded first (charts.vendor_scripts() gives all four scripts in order).

   llmbenchCharts(container, charts) appends one figure per chart ({id, title, caption, spec})
   and returns a Promise of the figures once every chart is drawn or has failed; each figure's
   data-state says which. Text from the run (agent ids, categories, test ids) reaches the page
   only as SVG text drawn by Vega and through textContent: the tooltip below never parses
   markup. Vega evaluates its expressions with its interpreter (ast: true), never with eval or
   new Function, so the page's Content-Security-Policy needs no 'unsafe-eval'; vega-embed's
   and vega-tooltip's style elements are turned off (charts.css has what they would add). */
(function (global) {
  'use strict';

  let tip = null;
  function tooltipElement() {
    if (!tip) {
      tip = document.createElement('div');
      tip.className = 'chart-tooltip';
      tip.setAttribute('role', 'tooltip');
      document.body.appendChild(tip);
    }
    return tip;
  }
  function row(table, key, value) {
    const tr = table.appendChild(document.createElement('tr'));
    tr.appendChild(document.createElement('th')).textContent = key;
    tr.appendChild(document.createElement('td')).textContent =
      value === null || value === undefined ? 'n/a' : String(value);
  }
  /* Vega's tooltip handler: value is the mark's tooltip (an object of fields, or text) */
  function tooltip(handler, event, item, value) {
    const el = tooltipElement();
    if (value === null || value === undefined || value === '') {
      el.classList.remove('visible');
      return;
    }
    el.textContent = '';
    if (typeof value === 'object') {
      const table = el.appendChild(document.createElement('table'));
      Object.keys(value).forEach((k) => row(table, k, value[k]));
    } else {
      el.textContent = String(value);
    }
    el.classList.add('visible');
    const box = el.getBoundingClientRect(), gap = 12;
    let x = event.clientX + gap, y = event.clientY + gap;
    if (x + box.width > window.innerWidth) x = Math.max(0, event.clientX - gap - box.width);
    if (y + box.height > window.innerHeight) y = Math.max(0, event.clientY - gap - box.height);
    el.style.left = x + 'px';
    el.style.top = y + 'px';
  }

  const OPTIONS = {
    actions: false, renderer: 'svg', ast: true, defaultStyle: false, tooltip: tooltip,
  };

  function figure(chart) {
    const node = document.createElement('figure');
    node.className = 'chart';
    node.id = 'chart-' + chart.id;
    node.setAttribute('data-state', 'drawing');
    node.appendChild(document.createElement('figcaption')).textContent = chart.title;
    const caption = node.appendChild(document.createElement('p'));
    caption.className = 'chart-caption';
    caption.textContent = chart.caption;
    const view = node.appendChild(document.createElement('div'));
    view.className = 'chart-view';
    return node;
  }

  function llmbenchCharts(container, charts) {
    return Promise.all(charts.map((chart) => {
      const node = container.appendChild(figure(chart));
      return global.vegaEmbed(node.querySelector('.chart-view'), chart.spec, OPTIONS).then(() => {
        node.setAttribute('data-state', 'rendered');
        return node;
      }, (error) => {
        node.setAttribute('data-state', 'failed');
        const p = node.appendChild(document.createElement('p'));
        p.className = 'chart-error';
        p.textContent = 'This chart could not be drawn: ' + (error && error.message ? error.message : error);
        console.error('llmbench chart ' + chart.id + ':', error);
        return node;
      });
    }));
  }

  global.llmbenchCharts = llmbenchCharts;
}(window));
