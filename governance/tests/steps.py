"""Steps of the workflow as the right people take them through the API, shared by the walkthrough tests."""

# A requester's intake answers, used by the API walkthroughs and the browser journeys alike.
INTAKE = {
    "title": "Discharge summaries",
    "intended_use": "Draft discharge summaries for the treating physician to edit and sign.",
    "intended_users": "Ward physicians",
    "patient_population": "Adult cardiology inpatients",
    "oversight_plan": "Every draft is reviewed and signed by the physician.",
    "data_flows": "EHR extract to on-premises model; nothing leaves the hospital.",
    "fallback_plan": "Physicians write the summary themselves.",
}


def ok(response, code=200):
    assert response.status_code == code, (response.status_code, getattr(response, "data", response.content))
    return response.data


def refused(response, code, fragment: str):
    assert response.status_code == code, (response.status_code, getattr(response, "data", response.content))
    assert fragment in str(response.data["detail"]), response.data
    return response.data


def file_request(h, endpoint, **answers) -> dict:
    api = h.client(h.requester)
    body = {"ai_system": h.system.pk, "endpoints": [endpoint.pk], **INTAKE, **answers}
    return ok(api.post("/api/v1/deployment-requests/", body, format="json"), 201)


def attest_all(h, request_id):
    clause_ids = list(h.guideline.clauses.values_list("id", flat=True))
    ok(
        h.client(h.requester).post(
            f"/api/v1/deployment-requests/{request_id}/attest/", {"clauses": clause_ids}, format="json"
        )
    )


def to_screening(h, request_id):
    attest_all(h, request_id)
    ok(h.client(h.requester).post(f"/api/v1/deployment-requests/{request_id}/submit/"))
    ok(h.client(h.secretary).post(f"/api/v1/deployment-requests/{request_id}/screen/"))


def expedited_review_recommending_approval(h, rid):
    """The secretary starts an expedited review and assigns a member, who recommends approval; returns the
    member's client."""
    ok(
        h.client(h.secretary).post(
            f"/api/v1/deployment-requests/{rid}/start-review/", {"review_type": "expedited"}, format="json"
        )
    )
    ok(
        h.client(h.secretary).post(
            f"/api/v1/deployment-requests/{rid}/assign-reviewer/", {"reviewer": h.member.pk}, format="json"
        ),
        201,
    )
    reviewer = h.client(h.member)
    ok(reviewer.post(f"/api/v1/deployment-requests/{rid}/review/", {"recommendation": "approve"}, format="json"))
    return reviewer


def approve_without_evidence(h, rid, conditions=()) -> dict:
    """Expedited approval of a screened request whose audits have not run: the reviewer records why."""
    reviewer = expedited_review_recommending_approval(h, rid)
    return ok(
        reviewer.post(
            f"/api/v1/deployment-requests/{rid}/determine/",
            {
                "determination": "approved_with_conditions" if conditions else "approved",
                "conditions": list(conditions),
                "override_justification": "Pilot in one ward while the audits run.",
            },
            format="json",
        )
    )
