"""What the web app's tests share: the token, job kinds that end each way a real job ends
(``kinds``), and the start line of a ``tikrelay web`` or ``serve`` process (``lines``)."""

TOKEN = "web-test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
