"""Forms made from the payload models: every field of every action gets an input of its
kind, and what the browser sends back becomes the payload the service validates."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from flows.errors import ProcedureError
from flows.service import REGISTRY
from flows.service.worklist import decision_actions
from web import forms

SHANGHAI = ZoneInfo("Asia/Shanghai")


def kinds(action: str, **options: object) -> dict[str, str]:
    return {f.name: f.kind for f in forms.form_fields(REGISTRY[action].payload, **options)}  # type: ignore[arg-type]


def test_each_payload_field_becomes_an_input_of_its_kind() -> None:
    assert kinds("open_comment_period") == {
        "start_date": "date",
        "end_date": "date",
        "channels": "lines",
        "urgent_reason": "text",
        "notice": "text",
    }
    assert kinds("register_decision", skip=())["category"] == "select"  # Art. 3(1) categories
    assert kinds("register_decision", skip=())["flags"] == "choices"
    assert kinds("register_decision", skip=(), units={"housing": "区住建局"})["units"] == "choices"
    assert kinds("record_meeting")["opinions"] == "records"
    assert kinds("announce_hearing")["quotas"] == "mapping"
    assert kinds("announce_hearing")["starts_at"] == "datetime"
    assert kinds("review_catalogue_entry", skip=("year",))["include"] == "select"  # required yes/no
    assert kinds("record_expert_opinion")["signed"] == "bool"
    assert kinds("approve_stage", choices={"stage": ["hearing"]})["stage"] == "select"
    # every action that works on a decision has a form (the decision comes from the page)
    for action in decision_actions():
        fields = forms.form_fields(REGISTRY[action].payload)
        assert "decision" not in {f.name for f in fields}
        assert {f.name for f in fields} == set(REGISTRY[action].payload.model_fields) - {"decision"}


def test_what_the_browser_sends_becomes_the_payload() -> None:
    fields = forms.form_fields(REGISTRY["select_experts"].payload)
    raw = {"experts": "E1 | 无利害关系 | 否\nE2 | 曾参与起草 | 是 | 是\n\n"}
    assert forms.parse(fields, raw, SHANGHAI) == {
        "experts": [
            {"expert": "E1", "declaration": "无利害关系", "direct_interest": False},
            {"expert": "E2", "declaration": "曾参与起草", "direct_interest": True, "differing_view": True},
        ]
    }
    hearing = forms.form_fields(REGISTRY["announce_hearing"].payload)
    sent = forms.parse(
        hearing,
        {"starts_at": "2026-05-20T09:30", "quotas": "居民 = 5\n企业=3", "place": "区政府礼堂", "ref": ""},
        SHANGHAI,
    )
    assert sent == {
        "starts_at": "2026-05-20T09:30:00+08:00",
        "quotas": {"居民": 5, "企业": 3},
        "place": "区政府礼堂",
    }
    review = forms.form_fields(REGISTRY["review_catalogue_entry"].payload, skip=("year",))
    assert forms.parse(review, {"entry": "E1", "include": "0"}, SHANGHAI) == {"entry": "E1", "include": False}
    opinion = forms.form_fields(REGISTRY["record_expert_opinion"].payload)
    assert forms.parse(opinion, {"expert": "E1", "text": "意见", "signed": "1", "sealed": ""}, SHANGHAI) == {
        "expert": "E1",
        "text": "意见",
        "signed": True,
    }
    settings = forms.form_fields(REGISTRY["change_settings"].payload, skip=())
    assert forms.parse(
        settings, {"settings": "quorum_fraction = 0.6\nlabel = 区", "reason": "r"}, SHANGHAI
    ) == {
        "settings": {"quorum_fraction": 0.6, "label": "区"},
        "reason": "r",
    }


@pytest.mark.parametrize(
    ("action", "raw", "field"),
    [
        ("select_experts", {"experts": "E1 | 声明 | 也许"}, "experts"),
        ("select_experts", {"experts": "E1 | a | 否 | 否 | 多余"}, "experts"),
        ("announce_hearing", {"quotas": "居民 5"}, "quotas"),
        ("announce_hearing", {"quotas": "居民 = 五"}, "quotas"),
        ("announce_hearing", {"starts_at": "下周一"}, "starts_at"),
        ("confirm_revision", {"draft": "第二稿"}, "draft"),
    ],
)
def test_a_value_of_the_wrong_shape_names_its_field(action: str, raw: dict[str, str], field: str) -> None:
    fields = forms.form_fields(REGISTRY[action].payload)
    sent, error = forms.submitted(raw, fields, SHANGHAI)
    assert isinstance(error, ProcedureError) and error.kind == "invalid" and error.field == field
    assert forms.error_field(error, fields) == field
    assert sent.raw[field] == raw[field]  # kept to be shown again
