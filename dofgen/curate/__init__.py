"""Section D of the supplement: curating the deep and shallow depth-of-field datasets.

``python -m dofgen.curate --input DIR --out OUT`` streams image shards (folders, webdataset
tars or Parquet files) through Section D's filters and writes ``OUT/deep`` and
``OUT/shallow`` (each loadable with ``datasets.load_from_disk``: image, file_name, EXIF,
prompt) and a report. Modules: :mod:`~dofgen.curate.exif_tags` (EXIF parsing),
:mod:`~dofgen.curate.rules` (the EXIF rules and the smartphone check),
:mod:`~dofgen.curate.sources` (shards), :mod:`~dofgen.curate.models` (captioner,
photographic validity, blur class), :mod:`~dofgen.curate.run` (the streaming run, resumable
and distributed), :mod:`~dofgen.curate.report` (counts and f-number histograms) and
:mod:`~dofgen.curate.train_blur` (fine-tuning the blur classifier).
"""
