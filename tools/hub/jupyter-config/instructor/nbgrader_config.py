# The instructor on the hub: their course folder (~/course: release/, submitted/, feedback/, the
# gradebook) and the exchange, named by the hub in the server's environment.
import os

c = get_config()  # noqa: F821 (defined by traitlets when it runs a config file)
c.CourseDirectory.root = os.path.join(os.path.expanduser("~"), "course")
c.CourseDirectory.course_id = os.environ["SQSLAB_HUB_COURSE"]
c.Exchange.root = os.environ["SQSLAB_HUB_EXCHANGE"]
