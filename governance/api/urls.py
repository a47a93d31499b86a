from rest_framework.routers import SimpleRouter

from governance.api import views

router = SimpleRouter()
router.register("deployment-requests", views.DeploymentRequestViewSet, basename="deployment-request")
router.register("ai-systems", views.AISystemViewSet, basename="ai-system")
router.register("committees", views.CommitteeViewSet, basename="committee")
router.register("audit-teams", views.AuditTeamViewSet, basename="audit-team")
router.register("meetings", views.MeetingViewSet, basename="meeting")
router.register("guidelines", views.GuidelineViewSet, basename="guideline")
router.register("approval-policies", views.ApprovalPolicyViewSet, basename="approval-policy")
router.register("conditions", views.ConditionViewSet, basename="condition")
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("events", views.EventViewSet, basename="event")
router.register("notifications", views.NotificationViewSet, basename="notification")

urlpatterns = router.urls
