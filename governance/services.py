def on_audit_finished(*, audit_id: int) -> None:
    return None


def continuing_review_sweep() -> dict:
    return {}
