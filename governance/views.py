from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from governance import selectors


@login_required
def home(request):
    return render(request, "governance/home.html", selectors.home_queues(user=request.user))


@login_required
def notification_list(request):
    notifications = request.user.notifications.all()[:100]
    return render(request, "governance/notification_list.html", {"notifications": notifications})


@login_required
def request_list(request):
    return render(
        request, "governance/request_list.html", {"requests": selectors.request_list(user=request.user)[:200]}
    )


@login_required
def request_detail(request, pk):
    return render(
        request, "governance/request_detail.html", {"object": selectors.request_get(user=request.user, pk=pk)}
    )


@login_required
def system_list(request):
    return render(request, "governance/system_list.html", {"systems": selectors.system_list(user=request.user)})


@login_required
def system_detail(request, pk):
    from django.shortcuts import get_object_or_404

    system = get_object_or_404(selectors.system_list(user=request.user), pk=pk)
    return render(request, "governance/system_detail.html", {"object": system})


@login_required
def meeting_list(request):
    return render(request, "governance/meeting_list.html", {"meetings": selectors.meeting_list(user=request.user)})


@login_required
def meeting_detail(request, pk):
    return render(
        request, "governance/meeting_detail.html", {"object": selectors.meeting_get(user=request.user, pk=pk)}
    )
