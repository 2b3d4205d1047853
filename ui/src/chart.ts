import type UPlot from 'uplot'
import type { Histogram } from './api.js'
import { INTERVALS } from './filters.js'

/** uPlot, loaded by its own <script> (node_modules/uplot, served at /ui/uPlot.iife.min.js). */
const UPlotChart = (globalThis as unknown as { uPlot: typeof UPlot }).uPlot

const HEIGHT = 160

/**
 * The timeline: one bar per bucket. Clicking a bar hands its range to `onPick` (the search narrows to it).
 * The container keeps a fixed height, so drawing never moves the table below it.
 */
export class Timeline {
  private plot: UPlot | null = null
  private histogram: Histogram | null = null

  constructor (private readonly container: HTMLElement, private readonly onPick: (start: Date, end: Date) => void) {
    window.addEventListener('resize', () => this.plot?.setSize({ width: this.width(), height: HEIGHT }))
  }

  private width (): number {
    return Math.max(240, this.container.clientWidth)
  }

  show (histogram: Histogram): void {
    this.histogram = histogram
    const xs = histogram.buckets.map((bucket) => Date.parse(bucket.start) / 1000)
    const ys = histogram.buckets.map((bucket) => bucket.count)
    this.plot?.destroy()
    // bars centred on their bucket's start, and the x range half a bucket wider each side, so the first
    // and last bars show whole and the bar under the cursor is the bucket uPlot's cursor picks
    const half = (INTERVALS.find(([name]) => name === histogram.interval)?.[1] ?? 60_000) / 2000
    const bars = UPlotChart.paths.bars?.({ size: [0.9, 80], align: 0 })
    this.plot = new UPlotChart(
      {
        width: this.width(),
        height: HEIGHT,
        legend: { show: false },
        cursor: { drag: { x: false, y: false }, points: { show: false } },
        scales: {
          x: { time: true, range: (_u, min, max) => [min - half, max + half] },
          y: { range: (_u, _min, max) => [0, Math.max(1, max)] }
        },
        axes: [{}, { size: 40 }],
        series: [{}, { label: 'Events', fill: 'rgba(31,58,95,0.55)', stroke: '#1f3a5f', width: 1, paths: bars, points: { show: false } }]
      },
      [xs, ys],
      this.container
    )
    this.plot.over.setAttribute(
      'aria-label',
      `Events per ${histogram.interval}: ${histogram.total} in all; click a bar to narrow the range`
    )
    this.plot.over.addEventListener('click', () => this.pick())
    // the keyboard too: Tab to the chart, arrows move between bars, Enter narrows to the one shown
    this.plot.over.tabIndex = 0
    this.plot.over.setAttribute('role', 'slider')
    this.plot.over.setAttribute('aria-valuemin', '0')
    this.plot.over.setAttribute('aria-valuemax', String(Math.max(0, xs.length - 1)))
    this.plot.over.addEventListener('keydown', (key) => this.keyboard(key, xs))
  }

  private keyboard (key: KeyboardEvent, xs: number[]): void {
    const plot = this.plot
    if (plot === null) return
    if (key.key === 'Enter' || key.key === ' ') { key.preventDefault(); this.pick(); return }
    const step = key.key === 'ArrowRight' ? 1 : key.key === 'ArrowLeft' ? -1 : 0
    if (step === 0) return
    key.preventDefault()
    const current = plot.cursor.idx ?? (step > 0 ? -1 : xs.length)
    const index = Math.min(xs.length - 1, Math.max(0, current + step))
    plot.setCursor({ left: plot.valToPos(xs[index] ?? 0, 'x'), top: plot.over.clientHeight / 2 })
    const bucket = this.histogram?.buckets[index]
    plot.over.setAttribute('aria-valuenow', String(index))
    if (bucket !== undefined) plot.over.setAttribute('aria-valuetext', `${new Date(bucket.start).toLocaleString()}: ${bucket.count} events`)
  }

  /** The bucket under the cursor, as a range. */
  private pick (): void {
    const index = this.plot?.cursor.idx
    const buckets = this.histogram?.buckets
    if (index === null || index === undefined || buckets === undefined) return
    const bucket = buckets[index]
    if (bucket === undefined) return
    // the bucket, inside the range searched: the first and last buckets may stick out of it
    const range = { start: Date.parse(this.histogram?.timeStart ?? bucket.start), end: Date.parse(this.histogram?.timeEnd ?? bucket.start) }
    const next = buckets[index + 1]
    const start = Math.max(Date.parse(bucket.start), range.start)
    const end = Math.min(next !== undefined ? Date.parse(next.start) : range.end, range.end)
    this.onPick(new Date(start), new Date(end))
  }

  clear (): void {
    this.plot?.destroy()
    this.plot = null
    this.histogram = null
  }
}
