from rest_framework.routers import SimpleRouter

from benchmark.api import views

router = SimpleRouter()
router.register("dimensions", views.DimensionViewSet, basename="dimension")
router.register("benchmark-suites", views.BenchmarkSuiteViewSet, basename="benchmark-suite")
router.register("benchmark-versions", views.BenchmarkVersionViewSet, basename="benchmark-version")
router.register("items", views.ItemViewSet, basename="item")

urlpatterns = router.urls
