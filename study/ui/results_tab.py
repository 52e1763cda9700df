"""The Results tab, for researchers: preference rates per baseline (Figure A6), with and
without exclusions, breakdowns, Hub sync state, completion-code checks and the raw votes.

While the study runs, everything here needs the researcher's token (``STUDY_ADMIN_TOKEN``):
live results would show a participant which count their vote moved. Once the study is
closed (``STUDY_CLOSED=1``; both read by ``study.config``) the aggregated results are open to all; raw votes and code
checks always need the token. The token box is a password field whose events are private:
neither Gradio's run history (localStorage) nor its API page records them; wrong tokens slow
their address down exponentially. The raw votes, the aggregated table (CSV, JSON) and the
chart (Figure A6, a data URL) go to the researcher's browser inside the response, and the
files are saved there: nothing is written to a served folder, so no link to them exists that
would open without the token.
"""

from __future__ import annotations

import base64
import hmac
import json

import gradio as gr
import pandas as pd

from dofgen.ui.files import named_path
from study import codecheck
from study.aggregate import bar_chart, exclusions, per_participant, per_prompt, preference_table
from study.ratelimit import Backoff, client_key
from study.store import read_votes
from study.ui.study_tab import service

DISPLAY = {"baseline": "baseline", "votes": "votes", "wins": "our method preferred", "preference": "rate", "wilson_low": "Wilson low",
           "wilson_high": "Wilson high", "bootstrap_low": "bootstrap low", "bootstrap_high": "bootstrap high", "p_value": "p-value",
           "participants": "participants"}
LOCKED = ("Results are for researchers while the study runs (a participant could see which count their vote moved): "
          "enter the researcher token.")
#: Saves the raw votes that came back in the response as a file, then empties the box.
SAVE_RAW = """(text) => {
  if (text) {
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([text], {type: 'application/x-ndjson'}));
    link.download = 'votes.jsonl';
    document.body.appendChild(link); link.click(); link.remove();
  }
  return '';
}"""
#: Saves each file of a {name: text} JSON that came back in the response, then empties the box.
SAVE_FILES = """(text) => {
  for (const [name, body] of Object.entries(text ? JSON.parse(text) : {})) {
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([body], {type: name.endsWith('.json') ? 'application/json' : 'text/csv'}));
    link.download = name;
    document.body.appendChild(link); link.click(); link.remove();
  }
  return '';
}"""
#: Wrong researcher tokens, per address: 1 s after the first, doubling, at most 10 minutes.
WRONG_TOKENS = Backoff()


def study_closed() -> bool:
    return service().config.closed


def _client(request) -> str:
    return client_key(request, service().config.trusted_proxies)


def authorise(token: object, request=None) -> str:
    """"" when ``token`` is the configured ``STUDY_ADMIN_TOKEN`` (compared in constant time),
    else why not. Wrong tokens slow their address down exponentially (:data:`WRONG_TOKENS`);
    while it waits, no token from it is even compared."""
    expected = service().config.admin_token
    if not expected:
        return "Enter the researcher token first (the app has no STUDY_ADMIN_TOKEN, so this stays locked)."
    if not isinstance(token, str) or not token:
        return "Enter the researcher token first."
    client = _client(request)
    wait = WRONG_TOKENS.wait(client)
    if wait:
        return f"Too many wrong tokens from your address: try again in {int(wait) + 1} s."
    if token.isascii() and hmac.compare_digest(token.encode(), expected.encode()):
        WRONG_TOKENS.succeeded(client)
        return ""
    WRONG_TOKENS.failed(client)
    return "That token is not right."


def _chart_html(table: pd.DataFrame) -> str:
    """Figure A6 as an image inside the page (a data URL: no file is served for it)."""
    png = named_path("preference.png")
    bar_chart(table, png)
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    png.unlink()
    return f"<img alt='Figure A6: preference for our method per baseline' style='max-width:100%' src='data:image/png;base64,{data}'>"


def results(token: str | None = None, request: gr.Request = None) -> tuple:
    """(status, table, table after exclusions, plot data, chart HTML, per prompt, per
    participant, exclusions) of the votes so far, or the locked message and nothing."""
    refused = "" if study_closed() else authorise(token, request)
    if refused:
        return (f"{LOCKED} {refused}" if token else LOCKED), None, None, None, None, None, None, None
    svc = service()
    votes = read_votes(svc.store.folder)
    table = preference_table(votes)
    after = preference_table(votes, exclude=True)
    plot = pd.DataFrame({"baseline": table["baseline"], "preference (%)": (table["preference"] * 100).round(1)})
    status = f"{svc.store.participants()} participants, {len(votes)} answers. " + (svc.sync.status() if svc.sync else "Hub sync off (no STUDY_DATASET_REPO): votes stay on this disk.")
    status += f" {svc.shortfall}" if svc.shortfall else ""
    return (status, table.rename(columns=DISPLAY).round(3), after.rename(columns=DISPLAY).round(3), plot, _chart_html(table),
            per_prompt(votes).round(3), per_participant(votes).round(2), exclusions(votes))


def download_table(token: str | None = None, request: gr.Request = None) -> tuple[str, str]:
    """(message, {file name: text} as JSON) of the aggregated table as CSV and JSON, which the
    browser saves: the files travel inside the response, gated like the tables."""
    refused = "" if study_closed() else authorise(token, request)
    if refused:
        return refused, ""
    table = preference_table(read_votes(service().store.folder))
    files = {"preference.csv": table.to_csv(index=False), "preference.json": table.to_json(orient="records", indent=2)}
    return "Saved preference.csv and preference.json.", json.dumps(files)


def export_raw(token: str, request: gr.Request = None) -> tuple[str, str]:
    """(message, all votes as JSON Lines) for a researcher who gives the admin token."""
    if not service().config.admin_token:
        return "Raw vote export is off: the app has no STUDY_ADMIN_TOKEN.", ""
    refused = authorise(token, request)
    if refused:
        return refused, ""
    votes = read_votes(service().store.folder)
    return f"{len(votes)} votes saved as votes.jsonl.", "".join(json.dumps(vote, sort_keys=True) + "\n" for vote in votes)


def check_code(token: str, code: str, request: gr.Request = None) -> str:
    """Whose completion code this is and whether to accept it (``study.codecheck``), for a
    researcher who gives the admin token; the check is recorded."""
    refused = authorise(token, request)
    if refused:
        return refused
    svc = service()
    report = codecheck.check_code(svc.store, code, svc.config.min_view_s)
    if report is None:
        return "Not a completion code of this study."
    return report.text().replace("\n", "  \n")


def build_results_tab(demo: gr.Blocks) -> None:
    """Lay out the Results tab inside ``demo``."""
    gr.Markdown(
        "Share of votes for our method against each baseline, with Wilson 95 % intervals (bars), "
        "participant-clustered bootstrap intervals and two-sided binomial p-values against 50 %; "
        "attention checks never count, and the second table leaves out participants who failed one "
        "and answers given faster than the minimum viewing time."
    )
    token = gr.Textbox(label="Researcher token", type="password", elem_id="results-token")
    refresh = gr.Button("Show results", elem_id="results-refresh")
    status = gr.Markdown(LOCKED if not study_closed() else "", elem_id="results-status")
    plot = gr.BarPlot(x="baseline", y="preference (%)", y_lim=[0, 100], label="Preference for our method (%)", elem_id="results-plot")
    chart = gr.HTML(label="Figure A6", elem_id="results-chart")
    table = gr.Dataframe(label="Preference table (all answers)", interactive=False, elem_id="results-table")
    after = gr.Dataframe(label="Preference table after exclusions", interactive=False, elem_id="results-table-excluded")
    download = gr.Button("Download the table (CSV, JSON)", elem_id="results-download")
    saved = gr.Markdown(elem_id="results-saved")
    files = gr.Textbox(visible="hidden", elem_id="results-files")
    with gr.Accordion("Breakdowns", open=False):
        prompts = gr.Dataframe(label="Per prompt", interactive=False, elem_id="results-per-prompt")
        people = gr.Dataframe(label="Per participant", interactive=False, elem_id="results-per-participant")
        excluded = gr.Dataframe(label="Exclusions", interactive=False, elem_id="results-exclusions")
    with gr.Accordion("Raw votes and completion codes (researchers)", open=False):
        export = gr.Button("Export raw votes (JSON Lines)", elem_id="results-export")
        message = gr.Markdown(elem_id="results-message")
        raw = gr.Textbox(visible="hidden", elem_id="results-raw")
        code = gr.Textbox(label="Completion code", elem_id="results-code")
        verify = gr.Button("Check code", elem_id="results-verify")
    private = dict(api_visibility="private")  # the token is never recorded nor documented
    refresh.click(results, token, [status, table, after, plot, chart, prompts, people, excluded], **private)
    if study_closed():
        demo.load(results, None, [status, table, after, plot, chart, prompts, people, excluded], **private)
    download.click(download_table, token, [saved, files], **private).then(None, files, files, js=SAVE_FILES, **private)
    export.click(export_raw, token, [message, raw], **private).then(None, raw, raw, js=SAVE_RAW, **private)
    verify.click(check_code, [token, code], message, **private)
