"""Labels of the published site in the course's language (`course.yaml` → `site.language`)."""

from __future__ import annotations

LABELS = {
    "en": {
        "leaderboards": "Leaderboards", "homework": "Homework", "deadline": "Deadline", "teams": "Teams",
        "best": "Best public score", "baselines": "Baselines", "boards": "Boards", "public": "Public",
        "private": "Private", "rank": "Rank", "name": "Name", "score": "Score", "entries": "Entries",
        "last": "Last submission", "points": "Points", "levels": "Baselines passed", "published": "Published",
        "metric": "Metric", "higher": "higher is better", "lower": "lower is better",
        "private_after": "The private leaderboard opens after the deadline.", "all": "All homeworks",
        "distribution": "Score distribution", "rush": "Submissions over time", "shakeup": "Public → private shake-up",
        "passing": "Students passing each baseline", "baseline": "baseline", "your_page": "Your results",
        "submissions": "Your submissions", "status": "Status", "at": "Time", "final": "Final",
        "hidden": "hidden until the deadline", "also": "also required",
    },
    "zh-TW": {
        "leaderboards": "排行榜", "homework": "作業", "deadline": "截止時間", "teams": "隊伍數",
        "best": "最佳公開分數", "baselines": "基準線", "boards": "排行榜", "public": "公開",
        "private": "私人", "rank": "名次", "name": "名稱", "score": "分數", "entries": "提交次數",
        "last": "最後提交", "points": "得分", "levels": "通過的基準線", "published": "發布時間",
        "metric": "評分指標", "higher": "越高越好", "lower": "越低越好",
        "private_after": "私人排行榜在截止後公布。", "all": "所有作業",
        "distribution": "分數分布", "rush": "提交時間分布", "shakeup": "公開 → 私人排名變動",
        "passing": "通過各基準線的人數", "baseline": "基準線", "your_page": "你的成績",
        "submissions": "你的提交", "status": "狀態", "at": "時間", "final": "最終選擇",
        "hidden": "截止後公布", "also": "另需達成",
    },
}


def labels(language: str) -> dict[str, str]:
    """The label set; English fills in anything a translation lacks."""
    return {**LABELS["en"], **LABELS.get(language, {})}
