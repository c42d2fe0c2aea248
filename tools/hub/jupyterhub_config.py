# JupyterHub for the course on one machine: local users (PAM), one server per user started as that
# user's uid, nbgrader's exchange in a folder the launcher names. tools/hub/classroom.py writes the
# settings this file reads (SQSLAB_HUB_SETTINGS, a JSON file) and starts `jupyterhub -f` on it, for
# `make hub` and for tests/deploy/test_hub.py. On The Littlest JupyterHub or Zero to JupyterHub the same
# pieces go into their own configuration (autograder/HUB.md).
import json
import os

c = get_config()  # noqa: F821 (defined by traitlets when it runs a config file)
with open(os.environ["SQSLAB_HUB_SETTINGS"]) as f:
    s = json.load(f)

c.JupyterHub.bind_url = s["url"]
c.JupyterHub.hub_bind_url = s["hub_api_url"]
c.ConfigurableHTTPProxy.api_url = s["proxy_api_url"]
c.ConfigurableHTTPProxy.command = [s["proxy"]]
c.ConfigurableHTTPProxy.auth_token = s["proxy_token"]
c.JupyterHub.db_url = "sqlite:///" + os.path.join(s["state"], "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(s["state"], "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = os.path.join(s["state"], "jupyterhub.pid")
# Servers end with the hub: nothing of a class run outlives `make hub` or the test.
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

# Local users with their passwords (PAM). No PAM session: a container has no logind to open one with.
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False
c.Authenticator.allowed_users = set(s["learners"]) | {s["instructor"]}
c.Authenticator.admin_users = {s["instructor"]}

# The class driver (the test, or an instructor's script) is a service with an API token: it starts
# servers and makes each learner a token of their own, then acts as that learner.
c.JupyterHub.services = [{"name": "class-driver", "api_token": s["driver_token"]}]
c.JupyterHub.load_roles = [{"name": "class-driver", "services": ["class-driver"],
                            "scopes": ["admin:users", "admin:servers", "admin:server_state", "tokens",
                                       "list:users"]}]

# Each user's server: the hub's own environment (every uid can read it), JupyterLab, and the Jupyter
# settings of a learner or of the instructor (their nbgrader panels, the exchange's folder).
c.Spawner.cmd = [s["singleuser"]]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120


# The servers' terminals run bash without --login (see jupyter-config/*/jupyter_server_config.json): a
# login shell's /etc/profile would put back the system's PATH, and `nbgrader`, `make grade`'s Python
# and the bench would vanish from the terminal.
def _environment(spawner):
    role = "instructor" if spawner.user.name == s["instructor"] else "learner"
    return {"PATH": os.path.dirname(s["singleuser"]) + ":/usr/local/bin:/usr/bin:/bin",
            "JUPYTER_CONFIG_PATH": os.path.join(s["public"], "jupyter-config", role),
            "SQSLAB_HUB_EXCHANGE": s["exchange"], "SQSLAB_HUB_COURSE": s["course_id"]}


c.Spawner.environment = {}
c.Spawner.pre_spawn_hook = lambda spawner: spawner.environment.update(_environment(spawner))
