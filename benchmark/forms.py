from django import forms
from django.utils.translation import gettext_lazy as _

from benchmark.models import Language


class ImportForm(forms.Form):
    KIND_ITEMS = "items"
    KIND_SCENARIOS = "scenarios"
    KIND_CHOICES = [
        (KIND_ITEMS, _("Benchmark items (multiple choice)")),
        (KIND_SCENARIOS, _("Safety scenarios (open-ended conversations)")),
    ]
    FORMAT_CHOICES = [("", _("Detect from the file")), ("jsonl", _("JSON Lines")), ("csv", _("CSV"))]

    file = forms.FileField(label=_("File"), help_text=_("A .jsonl or .csv file, UTF-8."))
    kind = forms.ChoiceField(label=_("Content"), choices=KIND_CHOICES, initial=KIND_ITEMS, widget=forms.RadioSelect)
    suite = forms.CharField(
        label=_("Suite"),
        max_length=120,
        help_text=_("An existing suite gets a new version; a new name creates the suite."),
        widget=forms.TextInput(attrs={"list": "suite-names", "autocomplete": "off"}),
    )
    label = forms.CharField(
        label=_("Version label"),
        max_length=64,
        required=False,
        help_text=_("For example 2026.1. Leave empty for the next free v1, v2, …"),
    )
    file_format = forms.ChoiceField(label=_("Format"), choices=FORMAT_CHOICES, required=False)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == self.KIND_SCENARIOS and cleaned.get("file_format") == "csv":
            self.add_error("file_format", _("Scenario files are JSON Lines only."))
        return cleaned


class ItemFilterForm(forms.Form):
    """The item browser's GET filters; names match ``benchmark.filtersets.ItemFilterSet``."""

    MULTIPLE_CHOICES = [("", _("Any")), ("true", _("Yes")), ("false", _("No"))]

    version = forms.TypedChoiceField(label=_("Version"), required=False, coerce=int, empty_value=None)
    dimension = forms.ChoiceField(label=_("Dimension"), required=False)
    language = forms.ChoiceField(label=_("Language"), required=False, choices=[("", _("Any")), *Language.choices])
    multiple_answer = forms.ChoiceField(label=_("Multiple answers"), required=False, choices=MULTIPLE_CHOICES)
    q = forms.CharField(label=_("Search"), required=False, max_length=200)

    def __init__(self, *args, versions, dimensions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].choices = [("", _("All versions"))] + [
            (version.pk, f"{version.suite.name} {version.label}") for version in versions
        ]
        self.fields["dimension"].choices = [("", _("All dimensions"))] + [
            (dimension.code, f"{dimension.code} — {dimension.name}") for dimension in dimensions
        ]

    def filter_data(self) -> dict:
        """The valid filters as ``ItemFilterSet`` data; invalid fields are left out (and shown as errors)."""
        self.is_valid()
        data = {}
        for name, value in getattr(self, "cleaned_data", {}).items():
            if value in (None, ""):
                continue
            data[name] = value
        return data
