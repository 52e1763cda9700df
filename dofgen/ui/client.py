"""What the Explore tab adds to the page: a script for its sliders and the picture's style.

Gradio's slider sends ``input`` on every keystroke in its number box (typing 1.4 sends 1
first, out of range) and ``release`` only on pointer-up and blur. The script (:data:`HEAD`)
makes the Explore sliders (``elem_id`` starting ``explore-``) send a typed value once it is
committed, on Enter or Tab (or the box's spin buttons), and ``release`` on Enter, on letting
go of an arrow key, and on letting go of a drag that ends off the track: the preview follows
``input`` and the full view ``release``, whatever moved the slider.

:data:`CSS` makes the picture fill its box whatever its pixel size, so a live preview (smaller
than the view) takes the view's place without moving the controls under it.
"""

from __future__ import annotations

HEAD = """<script>
(() => {
  const explore = el => el instanceof HTMLInputElement && !!el.closest('[id^="explore-"]');
  const box = el => explore(el) && el.type === 'number';
  const track = el => explore(el) && el.type === 'range';
  const send = (el, type) => { const event = new Event(type, {bubbles: true}); event.dofgen = true; el.dispatchEvent(event); };
  // keystrokes in a number box stay in the box until the value is committed
  window.addEventListener('input', e => { if (box(e.target) && !e.dofgen) e.stopImmediatePropagation(); }, true);
  window.addEventListener('change', e => { if (box(e.target)) send(e.target, 'input'); }, true);
  window.addEventListener('keydown', e => {
    if (box(e.target) && e.key === 'Enter') { send(e.target, 'input'); send(e.target, 'pointerup'); }
  }, true);
  const KEYS = new Set(['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'PageUp', 'PageDown', 'Home', 'End']);
  window.addEventListener('keyup', e => { if (track(e.target) && KEYS.has(e.key)) send(e.target, 'pointerup'); }, true);
  let held = null;
  window.addEventListener('pointerdown', e => { held = track(e.target) ? e.target : null; }, true);
  window.addEventListener('pointerup', e => {
    if (held && e.target !== held && !e.dofgen) send(held, 'pointerup');
    if (!e.dofgen) held = null;
  }, true);
})();
</script>
"""

CSS = """
#explore-image .image-frame, #explore-image img { width: 100%; }
#explore-image img { object-fit: contain; }
"""
