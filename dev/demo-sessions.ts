/**
 * The demo origin's "your sessions" panel: the browser asks the edge for
 * `GET /auth/sessions` (same origin, the session cookie rides along), lists
 * them with a button to sign each other one out (`POST /auth/sessions/revoke`),
 * and offers "sign out everywhere" (a form POST to `/auth/logout` with
 * `everywhere=1`). The origin itself never sees a session handle.
 */

/** The panel's HTML and script; values from the edge are set as text, never as HTML. */
export function sessionsPanel(): string {
  return `<h2>Setur þínar / Your sessions</h2>
<table id="sessions"><thead><tr><th>Tæki / Device</th><th>Innskráð / Signed in</th><th>Síðast / Last seen</th><th></th></tr></thead><tbody><tr><td colspan="4">…</td></tr></tbody></table>
<p><button type="button" id="revoke-others">Skrá út öll önnur tæki / Sign out my other sessions</button> <output id="revoke-result"></output></p>
<form method="post" action="/auth/logout"><input type="hidden" name="everywhere" value="1"><button type="submit">Skrá út alls staðar / Sign out everywhere</button></form>
<script>
(() => {
  const body = document.querySelector('#sessions tbody');
  const result = document.getElementById('revoke-result');
  const when = (seconds) => new Date(seconds * 1000).toLocaleString();
  const revoke = async (payload) => {
    const response = await fetch('/auth/sessions/revoke', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
    });
    result.textContent = response.status + ' ' + (await response.text());
    await load();
  };
  const cell = (row, text) => { const td = row.insertCell(); td.textContent = text; return td; };
  async function load() {
    const response = await fetch('/auth/sessions', { headers: { accept: 'application/json' } });
    body.replaceChildren();
    if (!response.ok) { cell(body.insertRow(), 'GET /auth/sessions: ' + response.status).colSpan = 4; return; }
    for (const session of (await response.json()).sessions) {
      const row = body.insertRow();
      cell(row, session.user_agent + (session.current ? ' (þessi / this one)' : ''));
      cell(row, when(session.created_at));
      cell(row, when(session.last_seen_at));
      const action = row.insertCell();
      if (!session.current) {
        const button = document.createElement('button');
        button.type = 'button';
        button.textContent = 'Skrá út / Sign out';
        button.addEventListener('click', () => revoke({ id: session.id }));
        action.append(button);
      }
    }
  }
  document.getElementById('revoke-others').addEventListener('click', () => revoke({ others: true }));
  load();
})();
</script>`;
}
