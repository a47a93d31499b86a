from rest_framework.routers import SimpleRouter

from audits.api import views

router = SimpleRouter()
router.register("endpoints", views.ModelEndpointViewSet, basename="endpoint")
router.register("audits", views.AuditViewSet, basename="audit")
router.register("adjudication", views.AdjudicationViewSet, basename="adjudication")
router.register("audit-schedules", views.AuditScheduleViewSet, basename="audit-schedule")

urlpatterns = router.urls
