# A learner on the hub: the course they take and the exchange they fetch from and submit to, both
# named by the hub in the server's environment (tools/hub/jupyterhub_config.py), not in /etc.
import os

c = get_config()  # noqa: F821 (defined by traitlets when it runs a config file)
c.CourseDirectory.course_id = os.environ["SQSLAB_HUB_COURSE"]
c.Exchange.root = os.environ["SQSLAB_HUB_EXCHANGE"]
