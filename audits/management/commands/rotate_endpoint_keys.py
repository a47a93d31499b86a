from audits import services
from config.commands import MedGovCommand


class Command(MedGovCommand):
    help = "Re-encrypt stored endpoint API keys with the first key of MEDGOV_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        count = services.endpoint_rotate_keys()
        self.stdout.write(f"re-encrypted {count} API key(s)")
