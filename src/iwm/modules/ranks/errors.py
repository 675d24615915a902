from iwm.core.errors import DomainError


class RankPlanChanged(DomainError):
    status_code, code, message = (
        409,
        "RANK_PLAN_CHANGED",
        "This rank plan version was used with other rules: give the changed plan a new version",
    )
