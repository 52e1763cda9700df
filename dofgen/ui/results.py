"""The Results tab: preference rates per baseline (Figure A6), downloads, raw votes for
researchers with ``STUDY_ADMIN_TOKEN``."""

from __future__ import annotations

import hmac
import json
import os

import gradio as gr
import pandas as pd

from dofgen.ui.files import named_path
from dofgen.ui.study import service
from study.aggregate import bar_chart, preference_table
from study.store import read_votes

DISPLAY = {"baseline": "baseline", "votes": "votes", "wins": "our method preferred", "preference": "rate", "wilson_low": "Wilson low",
           "wilson_high": "Wilson high", "bootstrap_low": "bootstrap low", "bootstrap_high": "bootstrap high", "p_value": "p-value",
           "participants": "participants"}


def results() -> tuple:
    """(table, plot data, chart PNG, CSV, JSON) of the votes stored so far."""
    table = preference_table(read_votes(service().store.folder))
    shown = table.rename(columns=DISPLAY).round(3)
    plot = pd.DataFrame({"baseline": table["baseline"], "preference (%)": (table["preference"] * 100).round(1)})
    png, csv, js = named_path("preference.png"), named_path("preference.csv"), named_path("preference.json")
    bar_chart(table, png)
    table.to_csv(csv, index=False)
    js.write_text(table.to_json(orient="records", indent=2))
    return shown, plot, str(png), [str(csv), str(js)]


def export_raw(token: str) -> str:
    """All votes as JSON Lines, for a researcher who gives the admin token."""
    expected = os.environ.get("STUDY_ADMIN_TOKEN", "")
    if not expected:
        raise gr.Error("Raw vote export is off: the app has no STUDY_ADMIN_TOKEN.")
    if not isinstance(token, str) or not hmac.compare_digest(token.encode(), expected.encode()):
        raise gr.Error("That token is not right.")
    path = named_path("votes.jsonl")
    path.write_text("".join(json.dumps(vote, sort_keys=True) + "\n" for vote in read_votes(service().store.folder)))
    return str(path)


def build_results_tab(demo: gr.Blocks) -> None:
    """Lay out the Results tab inside ``demo``."""
    gr.Markdown(
        "Share of votes for our method against each baseline, with Wilson 95 % intervals (bars), "
        "participant-clustered bootstrap intervals and two-sided binomial p-values against 50 %."
    )
    refresh = gr.Button("Refresh", elem_id="results-refresh")
    plot = gr.BarPlot(x="baseline", y="preference (%)", y_lim=[0, 100], label="Preference for our method (%)", elem_id="results-plot")
    chart = gr.Image(label="Figure A6", type="filepath", interactive=False, elem_id="results-chart")
    table = gr.Dataframe(label="Preference table", interactive=False, elem_id="results-table")
    files = gr.File(label="Aggregated table (CSV, JSON)", file_count="multiple", elem_id="results-files")
    with gr.Accordion("Raw votes (researchers)", open=False):
        token = gr.Textbox(label="Admin token", type="password", elem_id="results-token")
        export = gr.Button("Export raw votes (JSON Lines)", elem_id="results-export")
        raw = gr.File(label="Raw votes", elem_id="results-raw")
    refresh.click(results, None, [table, plot, chart, files])
    demo.load(results, None, [table, plot, chart, files])
    export.click(export_raw, token, raw)
