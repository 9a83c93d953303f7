"""What the report and the dashboard show about incidents and lateral movement.

Headings in Japanese and English, and the graph; the template partial
``incidents.html.j2`` lays them out (autoescaped like everything else).
"""

from __future__ import annotations

from typing import Any

from ashiato import i18n
from ashiato.report.lateral_graph import lateral_chart

TEXT = {
    "en": {
        "incidents": "Incidents and lateral movement",
        "incident_list": "Incidents (detections grouped into acts)",
        "lateral": "Lateral movement",
        "severity": "Severity",
        "technique": "Technique",
        "count": "Events",
        "first": "First",
        "last": "Last",
        "hosts": "Hosts",
        "accounts": "Accounts",
        "key_values": "Key values",
        "rules": "Rules",
        "source": "Source",
        "target": "Target",
        "account": "Account",
        "execution": "Execution on target",
        "why": "Why",
        "yes": "yes",
        "no": "no",
        "none": "None.",
        "low_hidden": "low/informational incidents not shown",
        "not_weighed": "marks where files were hit or sign-ins failed; not weighed in the verdicts",
        "why_not_others": "Why not the others",
        "cannot_exclude": "Cannot be excluded (their logs begin after the first malicious time)",
        "encrypting_hosts": "Clients that wrote the encrypted files",
    },
    "ja": {
        "incidents": "インシデントと横展開",
        "incident_list": "インシデント（検知を行為ごとにまとめたもの）",
        "lateral": "横展開",
        "severity": "重大度",
        "technique": "手法",
        "count": "イベント数",
        "first": "最初",
        "last": "最後",
        "hosts": "ホスト",
        "accounts": "アカウント",
        "key_values": "主な値",
        "rules": "ルール",
        "source": "移動元",
        "target": "移動先",
        "account": "アカウント",
        "execution": "移動先での実行",
        "why": "根拠",
        "yes": "あり",
        "no": "なし",
        "none": "なし。",
        "low_hidden": "件の低/情報レベルのインシデントは非表示",
        "not_weighed": "ファイルの被害箇所やサインイン失敗の場所を示すもので、"
        "判定には使っていません",
        "why_not_others": "他のホストが最初ではない理由",
        "cannot_exclude": "除外できないホスト（ログの開始が最初の不審な活動より後）",
        "encrypting_hosts": "暗号化されたファイルを書き込んだクライアント",
    },
}
SHOWN = ("medium", "high", "critical")


def view(findings: dict[str, Any], lang: str) -> dict[str, Any]:
    """Labels, the incidents worth a section each, and the graph."""
    incidents = list(findings.get("incidents") or [])
    shown = [i for i in incidents if i.get("severity") in SHOWN]
    return {
        "t": TEXT.get(lang, TEXT["en"]),
        "incidents": shown,
        "hidden": len(incidents) - len(shown),
        "edges": list(findings.get("lateral_movement") or []),
        "graph": lateral_chart(findings, lang),
        # severity and ATT&CK tactic words in the reader's language (the id as it is else)
        "sev": {s: i18n.gettext(lang, f"severity.{s}") for s in _SEVERITIES},
        "tactic": {
            str(i.get("tactic")): i18n.section(lang, "tactic").get(str(i.get("tactic")))
            or str(i.get("tactic"))
            for i in incidents
            if i.get("tactic")
        },
    }


_SEVERITIES = ("critical", "high", "medium", "low", "informational")
