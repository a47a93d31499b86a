import factory

from audits.models import ModelEndpoint


class ModelEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelEndpoint

    name = factory.Sequence(lambda n: f"endpoint-{n}")
    base_url = "http://127.0.0.1:9/v1"
    model = "medgov-sim-1"
    max_concurrency = 16
    timeout_s = 5.0
    max_retries = 3
