from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from audits import selectors


@login_required
def audit_list(request):
    return render(request, "audits/audit_list.html", {"audits": selectors.audit_list(user=request.user)[:200]})


@login_required
def endpoint_list(request):
    return render(request, "audits/endpoint_list.html", {"endpoints": selectors.endpoint_list(user=request.user)})
