"""The study's Gradio tabs: the Study for participants, the Results for researchers."""

from study.ui.queue import reserve_queue
from study.ui.results_tab import build_results_tab
from study.ui.study_tab import HEAD, build_study_tab

__all__ = ["HEAD", "build_results_tab", "build_study_tab", "reserve_queue"]
