// Line charts (uPlot: small, fast, canvas-drawn) for the training curves and
// the dashboard's time series.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "./dom";

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"];

export interface Series { label: string; values: Array<number | null> }

// A chart of `series` over `xs` (unix seconds when `time`, else steps) in a
// new figure element; `update` replaces the data.
export function lineChart(title: string, xs: number[], series: Series[], time = true):
    { el: HTMLElement; update: (xs: number[], series: Series[]) => void } {
  const box = h("div", { class: "chart" });
  const el = h("figure", { class: "figure" }, h("figcaption", {}, title), box);
  let plot: uPlot | null = null;
  let data: [number[], Series[]] = [xs, series];
  // Drawn at the width the figure gets once laid out, and again when it changes (a phone turned).
  let width = 0;
  const draw = () => {
    const [x, s] = data;
    box.dataset.points = String(x.length);
    if (width <= 0) return;
    plot?.destroy();
    plot = new uPlot({
      width, height: 220,
      scales: { x: { time } },
      series: [{ label: time ? "time" : "epoch" }, ...s.map((v, i) => ({ label: v.label, stroke: COLORS[i % COLORS.length], width: 2 }))],
      axes: [{}, { size: 60 }],
      legend: { show: true },
    }, [x, ...s.map((v) => v.values)] as uPlot.AlignedData, box);
  };
  new ResizeObserver((entries) => {
    const w = Math.floor(entries[0].contentRect.width);
    if (w > 0 && Math.abs(w - width) > 8) {
      width = w;
      draw();
    }
  }).observe(box);
  const update = (x: number[], s: Series[]) => {
    data = [x, s];
    draw();
  };
  box.dataset.points = String(xs.length);
  return { el, update };
}
