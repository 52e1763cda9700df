"""Photographers' scales for two Explore sliders, drawn in the browser over Gradio's own.

- Aperture: a track even in stops, the full stops marked under it; a drag moves smoothly, an
  arrow key to the next third stop (:data:`dofgen.camera.THIRD_STOPS`), Page Up and Down to
  the next full stop; f/1.4 to f/4 takes 3 of its 8 stops.
- Focus: a track even in 1/distance between the slider's bounds (as a focus ring turns),
  metres marked under it; its far end is :data:`FOCUS_FAR_M`, marked ∞.

Gradio's slider stays the control: its number box shows and takes f-numbers and metres, its
events render; :data:`SCALES_JS` hides its linear track, and moving ours sets its value and
sends its ``input`` and ``release`` events, as a drag on its own track would. Without
JavaScript the linear track stays. :func:`aperture_value` and :func:`focus_value` are what the
tracks compute, for tests.
"""

from __future__ import annotations

import json
import math

from dofgen.camera import STANDARD_STOPS, THIRD_STOPS

#: Positions of the aperture track from one third stop to the next (a drag moves smoothly).
APERTURE_STEPS_PER_THIRD = 10
#: Positions of the focus track (its keyboard steps).
FOCUS_STEPS = 1000
#: The focus slider's far end, as good as infinity for any lens here (marked ∞).
FOCUS_FAR_M = 1000.0
#: Distances marked under the focus track, where they fall inside it (metres).
FOCUS_MARKS_M = (0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 10, 20, 50, 100)


def aperture_value(position: float) -> float:
    """The f-number at a position of the aperture track (0: f/1.4; every
    :data:`APERTURE_STEPS_PER_THIRD` positions the next nominal third stop, geometric in
    between), to a tenth."""
    index = max(0.0, min(len(THIRD_STOPS) - 1.0, position / APERTURE_STEPS_PER_THIRD))
    low = min(int(index), len(THIRD_STOPS) - 2)
    start, end = THIRD_STOPS[low], THIRD_STOPS[low + 1]
    return round(start * (end / start) ** (index - low), 1)


def aperture_position(f_number: float) -> int:
    """The aperture track's position nearest to ``f_number``."""
    f_number = max(THIRD_STOPS[0], min(THIRD_STOPS[-1], f_number))
    low = max(i for i in range(len(THIRD_STOPS) - 1) if THIRD_STOPS[i] <= f_number)
    start, end = THIRD_STOPS[low], THIRD_STOPS[low + 1]
    return round(APERTURE_STEPS_PER_THIRD * (low + math.log(f_number / start) / math.log(end / start)))


def next_stop(f_number: float, direction: int, stops: tuple[float, ...] = THIRD_STOPS) -> float:
    """The next of ``stops`` above (``direction`` 1) or below (-1) ``f_number``, or the end:
    where an arrow key (third stops) or Page Up/Down (:data:`STANDARD_STOPS`) moves the track."""
    if direction > 0:
        return next((s for s in stops if s > f_number + 1e-6), stops[-1])
    return next((s for s in reversed(stops) if s < f_number - 1e-6), stops[0])


def focus_value(position: int, near_m: float, far_m: float) -> float:
    """The focus distance (metres, to the centimetre) at a position of the focus track whose
    ends are ``near_m`` and ``far_m``: even steps in 1/distance."""
    t = max(0, min(FOCUS_STEPS, int(position))) / FOCUS_STEPS
    return round(1.0 / ((1 - t) / near_m + t / far_m), 2)


def focus_position(distance_m: float, near_m: float, far_m: float) -> int:
    """The focus track's position nearest to ``distance_m``."""
    t = (1 / near_m - 1 / distance_m) / (1 / near_m - 1 / far_m)
    return max(0, min(FOCUS_STEPS, round(t * FOCUS_STEPS)))


#: The tracks' look: Gradio's linear track hidden where ours is drawn, the marks under ours.
SCALES_CSS = """
.dofgen-scaled .slider_input_container { display: none !important; }
.dofgen-scale { position: relative; padding-bottom: 1.3em; }
.dofgen-scale input.dofgen-track { width: 100%; }
.dofgen-marks { position: absolute; left: 8px; right: 8px; bottom: 0; height: 1.2em; font-size: var(--text-xs, 11px); color: var(--body-text-color-subdued); }
.dofgen-marks span { position: absolute; transform: translateX(-50%); white-space: nowrap; }
.dofgen-marks span::before { content: ""; position: absolute; left: 50%; top: -5px; height: 4px; border-left: 1px solid currentColor; }
"""

_JS = """
() => {
  const STOPS = __STOPS__, FULL = __FULL__, STEPS = __STEPS__, FAR = __FAR__, MARKS = __MARKS__;
  const PER = __PER__, LAST = STOPS.length - 1;
  const stopValue = p => {
    const index = Math.max(0, Math.min(LAST, p / PER)), low = Math.min(Math.floor(index), LAST - 1);
    return Math.round(10 * STOPS[low] * Math.pow(STOPS[low + 1] / STOPS[low], index - low)) / 10;
  };
  const stopPosition = v => {
    v = Math.max(STOPS[0], Math.min(STOPS[LAST], v));
    let low = 0;
    while (low < LAST - 1 && STOPS[low + 1] <= v) low += 1;
    return Math.round(PER * (low + Math.log(v / STOPS[low]) / Math.log(STOPS[low + 1] / STOPS[low])));
  };
  const nextStop = (v, direction, stops) => direction > 0
    ? (stops.find(s => s > v + 1e-6) ?? stops[stops.length - 1])
    : ([...stops].reverse().find(s => s < v - 1e-6) ?? stops[0]);
  const KEYS = {ArrowRight: [1, STOPS], ArrowUp: [1, STOPS], ArrowLeft: [-1, STOPS], ArrowDown: [-1, STOPS], PageUp: [1, FULL], PageDown: [-1, FULL]};
  const SCALES = {
    'explore-aperture': {
      steps: LAST * PER,
      value: p => stopValue(p),
      position: v => stopPosition(v),
      marks: () => FULL.map(v => [stopPosition(v), String(v)]),
      key: (event, v) => KEYS[event.key] && stopPosition(nextStop(v, KEYS[event.key][0], KEYS[event.key][1])),
      label: 'aperture: arrow keys move a third of a stop, Page Up and Down a full stop',
    },
    'explore-focus': {
      steps: STEPS,
      value: (p, lo, hi) => Math.round(100 / ((1 - p / STEPS) / lo + (p / STEPS) / hi)) / 100,
      position: (v, lo, hi) => Math.max(0, Math.min(STEPS, Math.round(STEPS * (1 / lo - 1 / v) / (1 / lo - 1 / hi)))),
      marks: (lo, hi, gap) => {
        const at = m => Math.round(STEPS * (1 / lo - 1 / m) / (1 / lo - 1 / hi));
        const end = [at(hi), hi >= FAR ? '∞' : hi + ' m'], kept = [];
        for (const m of MARKS.filter(m => m >= lo && m < hi)) {
          const p = at(m);  // marks closer than ``gap`` (a share of the track) to their neighbours are left out
          if ((!kept.length || p - kept[kept.length - 1][0] >= gap * STEPS) && end[0] - p >= gap * STEPS) kept.push([p, m + ' m']);
        }
        return kept.concat([end]);
      },
      label: 'focus distance, even in 1/distance',
    },
  };
  function install(id, scale) {
    const block = document.getElementById(id);
    const native = block && block.querySelector('input[data-testid=range-input]');
    if (!native || block.querySelector('.dofgen-scale')) return;
    const box = document.createElement('div');
    box.className = 'dofgen-scale';
    box.innerHTML = '<input type="range" class="dofgen-track" min="0" step="1"><div class="dofgen-marks"></div>';
    const track = box.querySelector('input'), marks = box.querySelector('.dofgen-marks');
    track.className = native.className + ' dofgen-track';  // Gradio's look for ranges
    track.max = String(scale.steps);
    track.setAttribute('aria-label', scale.label);
    native.closest('.slider_input_container').after(box);
    block.classList.add('dofgen-scaled');
    let shown = '', touched = 0;
    const bounds = () => [parseFloat(native.min), parseFloat(native.max)];
    const fill = () => track.style.setProperty('--range_progress', `${100 * track.value / scale.steps}%`);
    const send = type => {
      fill();
      const [lo, hi] = bounds();
      const value = scale.value(parseInt(track.value, 10), lo, hi);
      track.dataset.value = String(value);
      if (type === 'input' && parseFloat(native.value) === value) return;
      native.value = String(value);
      native.dispatchEvent(new Event(type, {bubbles: true}));
    };
    track.addEventListener('input', () => { touched = Date.now(); send('input'); });
    track.addEventListener('keydown', event => {
      const to = scale.key && scale.key(event, parseFloat(native.value));
      if (to === undefined || to === false) return;
      event.preventDefault();
      track.value = String(to);
      touched = Date.now();
      send('input');
      native.dispatchEvent(new PointerEvent('pointerup', {bubbles: true}));
    });
    track.addEventListener('change', () => { touched = Date.now(); send('input'); native.dispatchEvent(new PointerEvent('pointerup', {bubbles: true})); });
    setInterval(() => {
      const [lo, hi] = bounds();
      const key = native.min + '|' + native.max + '|' + track.clientWidth;
      if (key !== shown && track.clientWidth > 0) {
        shown = key;
        const gap = Math.max(0.07, 44 / track.clientWidth);  // at least 44 px apart
        marks.innerHTML = scale.marks(lo, hi, gap).map(([p, t]) => `<span style="left:${100 * p / scale.steps}%">${t}</span>`).join('');
      }
      if (Date.now() - touched > 400 && !track.matches(':active')) {
        const value = parseFloat(native.value);
        if (Number.isFinite(value)) { track.value = String(scale.position(value, lo, hi)); track.dataset.value = String(value); fill(); }
      }
    }, 100);
  }
  setInterval(() => { for (const [id, scale] of Object.entries(SCALES)) install(id, scale); }, 250);
}
"""

#: The script (``launch(js=...)``) that draws the tracks once the sliders are on the page.
SCALES_JS = (
    _JS.replace("__STOPS__", json.dumps(list(THIRD_STOPS)))
    .replace("__FULL__", json.dumps([float(s) if s % 1 else int(s) for s in STANDARD_STOPS]))
    .replace("__STEPS__", str(FOCUS_STEPS))
    .replace("__PER__", str(APERTURE_STEPS_PER_THIRD))
    .replace("__FAR__", json.dumps(FOCUS_FAR_M))
    .replace("__MARKS__", json.dumps(list(FOCUS_MARKS_M)))
)
