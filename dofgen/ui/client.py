"""What the Explore tab adds to the page: a script for its sliders and the picture's style.

Gradio's slider sends ``input`` on every keystroke in its number box (typing 1.4 sends 1
first, out of range) and ``release`` on pointer-up (a click into the box too) and blur. The
script (:data:`HEAD`) makes the Explore sliders (``elem_id`` starting ``explore-``) send a
typed value once it is committed (Enter, Tab, the box's arrow keys and spin buttons, or
leaving the box after typing), with one ``release`` (Gradio's own on blur is held back); ``release`` on letting go of an arrow key on the track, and of a drag that ends
off the track; none for a click into the box. The preview follows ``input`` and the full
view ``release``, whatever moved the slider.

:data:`CSS` stretches a live preview (smaller than the view; its file name ends
``-preview.jpg``) to the width of the picture's box, so it takes the view's place without
moving the controls under it.
"""

from __future__ import annotations

HEAD = """<script>
(() => {
  const explore = el => el instanceof HTMLInputElement && !!el.closest('[id^="explore-"]');
  const box = el => explore(el) && el.type === 'number';
  const track = el => explore(el) && el.type === 'range';
  const send = (el, type) => { const event = new Event(type, {bubbles: true}); event.dofgen = true; el.dispatchEvent(event); };
  // a number box sends its value when it is committed (Chrome's change: Enter, Tab, arrow
  // keys, spin buttons), not per keystroke; a click into it is no release
  window.addEventListener('input', e => { if (box(e.target) && !e.dofgen) e.stopImmediatePropagation(); }, true);
  window.addEventListener('pointerup', e => { if (box(e.target) && !e.dofgen) e.stopImmediatePropagation(); }, true);
  window.addEventListener('change', e => {
    if (!box(e.target)) return;
    send(e.target, 'input');
    send(e.target, 'pointerup');
  }, true);
  // Gradio also releases on blur: a second render of a value already sent (a change before
  // the blur sent it), which would swap the picture under the next click
  window.addEventListener('blur', e => { if (box(e.target)) e.stopImmediatePropagation(); }, true);
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
#explore-image .image-frame:has(img[src$="-preview.jpg"]), #explore-image img[src$="-preview.jpg"] { width: 100%; }
#explore-image img[src$="-preview.jpg"] { object-fit: contain; }
"""
