# The learner's Jupyter server (make lab, make demo, the hub's single-user servers): settings that keep
# its terminal free of messages a learner can do nothing about. jupyter_server_config.json beside this
# file holds the plain settings; what needs a line of Python is here. Each names the cause it answers.
import os

import zmq
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from tornado import web

c = get_config()  # noqa: F821 (defined by traitlets when it runs a config file)

# ipykernel 7 warns "Kernel is running over TCP without encryption" unless the manager gives the kernel
# CurveZMQ keys (jupyter_client >= 8.9; "auto" does so for kernelspecs that declare support, as
# ipykernel's does). "auto" refuses to start on a pyzmq built without CurveZMQ: there, keep the
# warning rather than a server that will not start.
if zmq.has("curve"):
    c.KernelManager.transport_encryption = "auto"


class EarlyClosedKernelSocket(ZMQChannelsWebsocketConnection):
    """A kernel websocket that the browser closed while the kernel was still starting ends quietly.

    The server holds a kernel's websocket handshake until the kernel answers (seconds, when a notebook
    is first opened). If the browser drops that socket meanwhile (a reload, a tab closed, a reconnect),
    jupyter_server's handler has already forgotten the connection and then fails with
    "AttributeError: 'NoneType' object has no attribute 'kernel_ws_protocol'" and a 500
    (jupyter_server issue 1265). Ending the request here, once the socket is known to be gone, is what
    that issue's maintainers propose; the browser is not there to read an answer anyway.
    """

    async def prepare(self):
        await super().prepare()
        if getattr(self.websocket_handler, "connection", None) is not self:
            raise web.Finish()


c.ServerApp.kernel_websocket_connection_class = EarlyClosedKernelSocket

# jupyter_server's kernel websocket reads ws_ping_interval/ws_ping_timeout in milliseconds (defaults
# 30000 and 90000) and hands the same numbers to tornado, which reads seconds and, since tornado 6.5,
# warns "The websocket_ping_timeout (90000) cannot be longer than the websocket_ping_interval (30000)"
# (jupyter_server issue 1612). No pair of numbers satisfies both readings (jupyter's check needs the
# timeout longer than the interval). The pings keep a websocket alive through proxies and notice a
# vanished client; a learner's browser talks to 127.0.0.1 with no proxy between, and closes its sockets
# when it goes, so the local lab turns them off. Under a hub (JupyterHub, Binder) a proxy stands
# between, and may close a websocket that stays silent: there the pings stay on.
if not os.environ.get("JUPYTERHUB_SERVICE_PREFIX"):
    c.ServerApp.tornado_settings = {"ws_ping_interval": 0}
