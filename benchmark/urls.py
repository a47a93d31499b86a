from django.urls import path

from benchmark import views

app_name = "benchmark"

urlpatterns = [
    path("", views.suite_list, name="suite-list"),
    path("import/", views.import_file, name="import"),
    path("versions/<int:pk>/", views.version_detail, name="version-detail"),
    path("versions/<int:pk>/export.jsonl", views.version_export, name="version-export"),
    path("versions/<int:pk>/retire/", views.version_retire, name="version-retire"),
    path("items/", views.item_list, name="item-list"),
    path("items/<int:pk>/", views.item_detail, name="item-detail"),
    path("scenarios/<int:pk>/", views.scenario_version_detail, name="scenario-version-detail"),
    path("scenarios/<int:pk>/export.jsonl", views.scenario_version_export, name="scenario-version-export"),
]
