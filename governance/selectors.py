from governance.roles import user_roles


def home_queues(*, user) -> dict:
    return {"roles": user_roles(user)}
