from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from audits.models import ModelEndpoint
from governance.models import (
    AISystem,
    AuditTeam,
    Condition,
    DeploymentRequest,
    IncidentReport,
    Recommendation,
    RequestAttachment,
    RiskTier,
)

User = get_user_model()


class IntakeForm(forms.ModelForm):
    """Step 1 of the guided intake: the system, endpoints, use and safeguards; the risk tier follows."""

    endpoints = forms.ModelMultipleChoiceField(
        queryset=ModelEndpoint.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Model endpoints to audit"),
        help_text=_("The audit team measures each of these before the committee reviews the request."),
    )

    class Meta:
        model = DeploymentRequest
        fields = [
            "ai_system",
            "endpoints",
            "title",
            "intended_use",
            "intended_users",
            "patient_population",
            "oversight_plan",
            "data_flows",
            "fallback_plan",
            "patient_facing",
            "processes_identifiable_data",
            "influences_clinical_decisions",
        ]
        labels = {
            "ai_system": _("AI system"),
            "title": _("Title"),
            "intended_use": _("Intended use"),
            "intended_users": _("Intended users"),
            "patient_population": _("Patient population"),
            "oversight_plan": _("Human-oversight plan"),
            "data_flows": _("Data flows"),
            "fallback_plan": _("Fallback when the model is wrong"),
            "patient_facing": _("Patients use it directly (patient-facing)"),
            "processes_identifiable_data": _("It processes identifiable health data"),
            "influences_clinical_decisions": _("Its output can influence diagnosis or treatment"),
        }
        help_texts = {
            "oversight_plan": _("Who checks the output before it reaches a patient, and how."),
            "data_flows": _("What data go where: sources, the model's location, storage, retention."),
        }
        widgets = {
            name: forms.Textarea(attrs={"rows": 3})
            for name in (
                "intended_use",
                "intended_users",
                "patient_population",
                "oversight_plan",
                "data_flows",
                "fallback_plan",
            )
        }

    def __init__(self, *args, systems=None, endpoints=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ai_system"].queryset = systems if systems is not None else AISystem.objects.none()
        self.fields["endpoints"].queryset = endpoints if endpoints is not None else ModelEndpoint.objects.none()
        if self.instance.pk:
            self.fields["endpoints"].initial = list(self.instance.endpoints.values_list("pk", flat=True))
            self.fields.pop("ai_system")


class AttestationForm(forms.Form):
    def __init__(self, *args, clauses=(), attested=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.clauses = list(clauses)
        for clause in self.clauses:
            self.fields[f"clause_{clause.pk}"] = forms.BooleanField(
                required=False,
                initial=clause.pk in attested,
                label=f"§{clause.number} {clause.get_topic_display()}",
                help_text=clause.text,
            )

    def chosen_clause_ids(self) -> list[int]:
        return [clause.pk for clause in self.clauses if self.cleaned_data.get(f"clause_{clause.pk}")]


class AttachmentForm(forms.Form):
    file = forms.FileField(label=_("File"))
    kind = forms.ChoiceField(choices=RequestAttachment.Kind.choices, label=_("Kind"))


class TextForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label=_("Message"))


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label=_("Reason"), required=False)


class SendToAuditForm(forms.Form):
    team = forms.ModelChoiceField(queryset=AuditTeam.objects.all(), label=_("Audit team"))


class StartReviewForm(forms.Form):
    review_type = forms.ChoiceField(choices=DeploymentRequest.ReviewType.choices, label=_("Review type"))


class AssignReviewerForm(forms.Form):
    reviewer = forms.ModelChoiceField(queryset=User.objects.none(), label=_("Reviewer"))

    def __init__(self, *args, committee=None, **kwargs):
        super().__init__(*args, **kwargs)
        if committee is not None:
            self.fields["reviewer"].queryset = (
                User.objects.filter(committee_memberships__committee=committee)
                .exclude(committee_memberships__role="secretary")
                .order_by("last_name")
            )


class ConflictForm(forms.Form):
    has_conflict = forms.TypedChoiceField(
        choices=[("0", _("I have no conflict of interest")), ("1", _("I have a conflict of interest (recuse me)"))],
        coerce=lambda value: value == "1",
        widget=forms.RadioSelect,
        label=_("Conflict of interest"),
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, label=_("Describe the conflict"))


class ReviewForm(forms.Form):
    recommendation = forms.ChoiceField(
        choices=[choice for choice in Recommendation.choices if choice[0] != Recommendation.ABSTAIN],
        label=_("Recommendation"),
    )
    comments = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, label=_("Comments"))


class VoteForm(forms.Form):
    choice = forms.ChoiceField(choices=Recommendation.choices, widget=forms.RadioSelect, label=_("Your vote"))
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, label=_("Comment"))


class DeterminationForm(forms.Form):
    determination = forms.ChoiceField(choices=DeploymentRequest.Determination.choices, label=_("Determination"))
    rationale = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label=_("Rationale"))
    override_justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        label=_("Justification for approving despite failed gates"),
        help_text=_("Required only when the approval policy is not met; it is recorded in the event log."),
    )
    condition_text = forms.CharField(required=False, label=_("Condition"), widget=forms.Textarea(attrs={"rows": 2}))
    condition_kind = forms.ChoiceField(choices=Condition.Kind.choices, required=False, label=_("Machine check"))
    condition_source = forms.ChoiceField(
        choices=Condition.Source.choices,
        required=False,
        label=_("Checked on"),
        help_text=_("Which audits a lower bound applies to, or which audits count as a re-audit."),
    )
    condition_days = forms.IntegerField(required=False, min_value=1, label=_("Every N days"))
    condition_dimension = forms.CharField(required=False, label=_("Dimension code"))
    condition_threshold = forms.FloatField(required=False, min_value=0, max_value=1, label=_("Lower bound at least"))
    condition_on_breach = forms.ChoiceField(choices=Condition.OnBreach.choices, required=False, label=_("On breach"))
    condition_due_date = forms.DateField(
        required=False, label=_("Due date"), widget=forms.DateInput(attrs={"type": "date"})
    )


class AmendmentForm(forms.Form):
    amendment_kind = forms.ChoiceField(choices=DeploymentRequest.AmendmentKind.choices, label=_("What changes"))
    title = forms.CharField(required=False, max_length=200, label=_("Title of the amendment"))


class TierOverrideForm(forms.Form):
    risk_tier = forms.ChoiceField(choices=RiskTier.choices, label=_("Risk tier"))
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label=_("Reason"))


class RenewForm(forms.Form):
    rationale = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, label=_("Rationale"))
    override_justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label=_("Justification if the policy is not met")
    )


class IncidentForm(forms.ModelForm):
    class Meta:
        model = IncidentReport
        fields = ["severity", "occurred_at", "description"]
        labels = {"severity": _("Severity"), "occurred_at": _("When it happened"), "description": _("What happened")}
        widgets = {
            "occurred_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "description": forms.Textarea(attrs={"rows": 4}),
        }


class IncidentReviewForm(forms.Form):
    outcome = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label=_("Committee outcome"))
    suspend = forms.BooleanField(required=False, label=_("Suspend the approval"))


class SystemForm(forms.ModelForm):
    class Meta:
        model = AISystem
        fields = [
            "name",
            "vendor",
            "model_name",
            "model_version",
            "hosting",
            "intended_use",
            "clinical_area",
            "processes_identifiable_data",
            "patient_facing",
            "influences_clinical_decisions",
            "owner_department",
            "audit_team",
        ]
        widgets = {"intended_use": forms.Textarea(attrs={"rows": 3})}


class MeetingForm(forms.Form):
    scheduled_for = forms.DateTimeField(
        label=_("Date and time"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    location = forms.CharField(required=False, label=_("Location"))


class AgendaForm(forms.Form):
    request = forms.ModelChoiceField(queryset=DeploymentRequest.objects.none(), label=_("Request"))

    def __init__(self, *args, requests=None, **kwargs):
        super().__init__(*args, **kwargs)
        if requests is not None:
            self.fields["request"].queryset = requests


class AttendanceForm(forms.Form):
    present = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(), widget=forms.CheckboxSelectMultiple, required=False, label=_("Present")
    )

    def __init__(self, *args, members=None, **kwargs):
        super().__init__(*args, **kwargs)
        if members is not None:
            self.fields["present"].queryset = members
