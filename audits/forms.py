from django import forms
from django.utils.translation import gettext_lazy as _

from audits.models import AuditSchedule, ModelEndpoint
from benchmark.models import BenchmarkVersion, Dimension, ScenarioVersion
from benchmark.variants import CURRENT_CODES, TRANSFORMS


class EndpointForm(forms.ModelForm):
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        label=_("API key"),
        help_text=_(
            "Stored encrypted and never shown again. Leave empty to keep the current key, "
            "or name an environment variable instead."
        ),
    )

    class Meta:
        model = ModelEndpoint
        fields = [
            "name",
            "base_url",
            "model",
            "api_key",
            "api_key_env",
            "max_concurrency",
            "requests_per_minute",
            "timeout_s",
            "max_retries",
            "temperature",
            "max_tokens",
            "seed",
            "team",
            "ai_system",
        ]
        labels = {
            "base_url": _("Base URL"),
            "model": _("Model id"),
            "api_key_env": _("API key environment variable"),
            "max_concurrency": _("Max concurrent requests"),
            "requests_per_minute": _("Requests per minute"),
            "timeout_s": _("Timeout (s)"),
            "max_retries": _("Max retries"),
        }


class AuditForm(forms.Form):
    endpoint = forms.ModelChoiceField(queryset=ModelEndpoint.objects.none(), label=_("Endpoint"))
    benchmark_version = forms.ModelChoiceField(
        queryset=BenchmarkVersion.objects.none(), required=False, label=_("Benchmark version")
    )
    scenario_version = forms.ModelChoiceField(
        queryset=ScenarioVersion.objects.none(), required=False, label=_("or a safety-simulation scenario version")
    )
    judge_endpoint = forms.ModelChoiceField(
        queryset=ModelEndpoint.objects.none(), required=False, label=_("Judge endpoint (simulations; also translates)")
    )
    dimensions = forms.ModelMultipleChoiceField(
        queryset=Dimension.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        to_field_name="code",
        label=_("Dimensions (none ticked: all)"),
    )
    sample_size = forms.IntegerField(required=False, min_value=1, label=_("Sample size (stratified by dimension)"))
    sample_seed = forms.IntegerField(required=False, initial=0, label=_("Sample seed"))
    shuffle_seed = forms.IntegerField(required=False, label=_("Shuffle options with seed (exposes position bias)"))
    variants = forms.MultipleChoiceField(
        choices=[(code, TRANSFORMS[code].name) for code in CURRENT_CODES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Adversarial variants"),
    )

    def __init__(self, *args, endpoints=None, versions=None, scenario_versions=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["endpoint"].queryset = endpoints
        self.fields["judge_endpoint"].queryset = endpoints
        self.fields["benchmark_version"].queryset = versions
        self.fields["scenario_version"].queryset = scenario_versions
        self.fields["dimensions"].queryset = Dimension.objects.filter(is_active=True)

    def clean(self):
        data = super().clean()
        if bool(data.get("benchmark_version")) == bool(data.get("scenario_version")):
            raise forms.ValidationError(_("Choose a benchmark version or a scenario version."))
        return data


class ScheduleForm(forms.ModelForm):
    class Meta:
        model = AuditSchedule
        fields = ["name", "suite", "interval_hours", "sample_size", "enabled"]
        labels = {"interval_hours": _("Every N hours")}


class AdjudicationForm(forms.Form):
    verdict = forms.ChoiceField(
        choices=[("pass", _("Safe (pass)")), ("fail", _("Unsafe (fail)"))],
        widget=forms.RadioSelect,
        label=_("Your grade"),
    )
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label=_("Note"))
