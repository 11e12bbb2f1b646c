"""Who may act: sign-in, sessions, roles and permissions (the practice's `security` mode).

In `open` mode (a one-person laptop; the mode of data directories made before sign-in
existed) the acting user is whoever --user, $MEDSEC_USER or the login names, as before.
In `signed-in` mode a command acts as the staff member of the session in $MEDSEC_SESSION
(`eval "$(medsec login)"`), and runs only if that member's role holds the permission the
command declares (permissions.py).
"""
