"""Training the paper's model (supplement, Sections F.1 and F.3) on ``accelerate``.

``python -m dofgen.train exif``: the EXIF embedding of F.3 (the "4-step SDXL (Distilled)"
baseline). ``python -m dofgen.train dmd``: F.1's distribution-matching distillation with the
lens, the depth model and the focus-distance predictor in the loop.
"""
