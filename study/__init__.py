"""The paired-video human study (Section E): stimuli, assignment, votes, aggregation."""

#: Our method and the six baselines of the design notes (Section E's list).
OURS = "ours"
BASELINES: tuple[str, ...] = (
    "sdxl",
    "sdxl_distilled",
    "camera_tokens",
    "sdxl_exif_fixed_drbokeh",
    "sdxl_taf",
    "deepdof_taf",
)
#: Controls a demo manifest may add (not in the paper's study).
CONTROLS: tuple[str, ...] = ("no_lens", "drbokeh_lens")
