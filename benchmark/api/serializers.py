from rest_framework import serializers

from benchmark.formats import LETTERS
from benchmark.models import BenchmarkSuite, BenchmarkVersion, Dimension, Item


class DimensionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Dimension
        fields = ["id", "code", "category", "name_en", "name_zh", "description_en", "description_zh", "is_active"]


class BenchmarkSuiteSerializer(serializers.ModelSerializer):
    version_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = BenchmarkSuite
        fields = ["id", "name", "description", "created_at", "version_count"]
        read_only_fields = ["created_at"]


class BenchmarkVersionSerializer(serializers.ModelSerializer):
    suite = serializers.CharField(source="suite.name", read_only=True)

    class Meta:
        model = BenchmarkVersion
        fields = [
            "id",
            "suite",
            "label",
            "status",
            "content_hash",
            "item_count",
            "source_filename",
            "notes",
            "created_at",
            "published_at",
        ]
        read_only_fields = fields


class ItemSerializer(serializers.ModelSerializer):
    dimension = serializers.CharField(source="dimension.code")
    options = serializers.SerializerMethodField()
    answer = serializers.SerializerMethodField()

    class Meta:
        model = Item
        fields = [
            "id",
            "external_id",
            "version",
            "dimension",
            "language",
            "question",
            "options",
            "answer",
            "explanation",
            "tags",
            "content_hash",
        ]

    def get_options(self, item) -> dict[str, str]:
        return dict(zip(LETTERS, item.options, strict=False))

    def get_answer(self, item) -> list[str]:
        return list(item.answer)


class BenchmarkImportSerializer(serializers.Serializer):
    file = serializers.FileField()
    suite = serializers.CharField(max_length=120)
    label = serializers.CharField(max_length=64, required=False, allow_blank=True)
    format = serializers.ChoiceField(choices=["jsonl", "csv"], required=False)
    notes = serializers.CharField(required=False, allow_blank=True)


class ImportProblemSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    id = serializers.CharField(allow_null=True)
    message = serializers.CharField()
