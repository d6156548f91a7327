export default { async fetch(req: Request, env: any) { await env.SESSIONS.put('a', '1'); return new Response('hi ' + (await env.SESSIONS.get('a'))); } };
export class SessionLock { constructor(public state: any) {} async fetch() { return new Response('x'); } }
