"""The Results tab, for researchers: preference rates per baseline (Figure A6), with and
without exclusions, breakdowns, Hub sync state, completion-code checks and the raw votes.

While the study runs, everything here needs the researcher's token (``STUDY_ADMIN_TOKEN``):
live results would show a participant which count their vote moved. Once the study is
closed (``STUDY_CLOSED=1``; both read by ``study.config``) the aggregated results are open to all; raw votes and code
checks always need the token. The token box is a password field whose events are private:
neither Gradio's run history (localStorage) nor its API page records them. The raw votes go
to the researcher's browser inside the response and are saved there as a file: nothing is
written to a served folder, so no link to them exists.
"""

from __future__ import annotations

import hmac
import json

import gradio as gr
import pandas as pd

from dofgen.ui.files import named_path
from study.aggregate import bar_chart, exclusions, per_participant, per_prompt, preference_table
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


def study_closed() -> bool:
    return service().config.closed


def researcher(token: object) -> bool:
    """True when ``token`` is the configured ``STUDY_ADMIN_TOKEN`` (compared in constant time)."""
    expected = service().config.admin_token
    return bool(expected) and isinstance(token, str) and token.isascii() and hmac.compare_digest(token.encode(), expected.encode())


def results(token: str | None = None) -> tuple:
    """(status, table, table after exclusions, plot data, chart PNG, downloads, per prompt,
    per participant, exclusions) of the votes so far, or the locked message and nothing."""
    if not (study_closed() or researcher(token)):
        return LOCKED, None, None, None, None, None, None, None, None
    svc = service()
    votes = read_votes(svc.store.folder)
    table = preference_table(votes)
    after = preference_table(votes, exclude=True)
    plot = pd.DataFrame({"baseline": table["baseline"], "preference (%)": (table["preference"] * 100).round(1)})
    png, csv, js = named_path("preference.png"), named_path("preference.csv"), named_path("preference.json")
    bar_chart(table, png)
    table.to_csv(csv, index=False)
    js.write_text(table.to_json(orient="records", indent=2))
    status = f"{svc.store.participants()} participants, {len(votes)} answers. " + (svc.sync.status() if svc.sync else "Hub sync off (no STUDY_DATASET_REPO): votes stay on this disk.")
    return (status, table.rename(columns=DISPLAY).round(3), after.rename(columns=DISPLAY).round(3), plot, str(png), [str(csv), str(js)],
            per_prompt(votes).round(3), per_participant(votes).round(2), exclusions(votes))


def export_raw(token: str) -> tuple[str, str]:
    """(message, all votes as JSON Lines) for a researcher who gives the admin token."""
    if not service().config.admin_token:
        return "Raw vote export is off: the app has no STUDY_ADMIN_TOKEN.", ""
    if not researcher(token):
        return "That token is not right.", ""
    votes = read_votes(service().store.folder)
    return f"{len(votes)} votes saved as votes.jsonl.", "".join(json.dumps(vote, sort_keys=True) + "\n" for vote in votes)


def check_code(token: str, code: str) -> str:
    """Whose completion code this is, for a researcher who gives the admin token."""
    if not researcher(token):
        return "Enter the researcher token first."
    report = service().store.verify(code) if isinstance(code, str) and code.strip() else None
    if report is None:
        return "Not a completion code of this study."
    return (f"Valid: participant {report['participant_id']}, {report['answered']} of {report['questions']} answered, "
            f"recruitment {report['recruitment'] or 'none recorded'}.")


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
    chart = gr.Image(label="Figure A6", type="filepath", interactive=False, elem_id="results-chart")
    table = gr.Dataframe(label="Preference table (all answers)", interactive=False, elem_id="results-table")
    after = gr.Dataframe(label="Preference table after exclusions", interactive=False, elem_id="results-table-excluded")
    files = gr.File(label="Aggregated table (CSV, JSON)", file_count="multiple", elem_id="results-files")
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
    refresh.click(results, token, [status, table, after, plot, chart, files, prompts, people, excluded], **private)
    if study_closed():
        demo.load(results, None, [status, table, after, plot, chart, files, prompts, people, excluded], **private)
    export.click(export_raw, token, [message, raw], **private).then(None, raw, raw, js=SAVE_RAW, **private)
    verify.click(check_code, [token, code], message, **private)
