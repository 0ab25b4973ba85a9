/** @module dashboard/page — the dashboard's two pages, bundled in the Worker as strings: sign-in, and the live view that polls `/__sluice/dashboard/data`. */

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1b1f24}
header{background:#123;color:#fff;padding:10px 20px;display:flex;gap:16px;align-items:center}
header h1{font-size:18px;margin:0}header span{opacity:.75}header form{margin-left:auto}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px;padding:16px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:12px 16px}
h2{font-size:15px;margin:0 0 8px}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eef0f2}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.bar{background:#e4e7eb;height:8px;border-radius:4px;min-width:80px}.bar i{display:block;height:8px;border-radius:4px;background:#2a7}
.hot i{background:#d43}.muted{color:#6a737d}.err{color:#b00}
.signin{max-width:360px;margin:80px auto;background:#fff;padding:24px;border:1px solid #dde1e6;border-radius:6px}
input{width:100%;box-sizing:border-box;padding:8px;margin:8px 0}button{padding:6px 14px}`;

/** Escapes text for HTML. */
function esc(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/**
 * The sign-in form. The token is POSTed in the body, never put in a URL.
 *
 * @example
 * c.html(signInPage("")); // or signInPage("That token is not valid.")
 */
export function signInPage(error: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sluice — sign in</title>
<meta name="viewport" content="width=device-width"><style>${STYLE}</style></head><body>
<form class="signin" method="post" action="/__sluice/dashboard/session">
<h1>Sluice dashboard</h1><label for="token">Admin token (SLUICE_ADMIN_TOKEN)</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
${error ? `<p class="err" role="alert">${esc(error)}</p>` : ""}<button type="submit">Sign in</button></form></body></html>`;
}

/**
 * The live dashboard. Its script polls the data route every 3 s with the
 * session cookie and turns the cumulative counts into rates between polls.
 *
 * @example
 * c.html(dashboardPage());
 */
export function dashboardPage(): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sluice</title>
<meta name="viewport" content="width=device-width"><style>${STYLE}</style></head><body>
<header><h1>Sluice</h1><span id="updated">loading…</span>
<form method="post" action="/__sluice/dashboard/logout"><button>Sign out</button></form></header>
<main>
<section><h2>Requests by rule and outcome</h2><table id="requests"></table></section>
<section><h2>Top limited subjects (last hour)</h2><table id="limited"></table></section>
<section><h2>Tenants nearest their quotas</h2><table id="quotas"></table></section>
<section><h2>Store</h2><table id="stores"></table><div id="adaptive"></div></section>
<section><h2>Bans</h2><div id="bans"></div></section>
<section><h2>Lists</h2><div id="lists"></div></section>
</main><script>${SCRIPT}</script></body></html>`;
}

// Plain ES2020 in the browser: no framework, nothing fetched from elsewhere.
const SCRIPT = `
const $=id=>document.getElementById(id);
const esc=t=>String(t).replace(/[&<>"']/g,c=>"&#"+c.charCodeAt(0)+";");
let prev;
function table(id,head,rows,empty){
  $(id).innerHTML=rows.length?"<tr>"+head.map(h=>"<th"+(h[1]?" class=n":"")+">"+h[0]+"</th>").join("")+"</tr>"+
    rows.map(r=>"<tr>"+r.map((v,i)=>"<td"+(head[i][1]?" class=n":"")+">"+v+"</td>").join("")+"</tr>").join(""):
    "<tr><td class=muted>"+empty+"</td></tr>";
}
function bar(share){const p=Math.round(share*100);return "<div class='bar"+(share>=0.8?" hot":"")+"'><i style='width:"+p+"%'></i></div>";}
function other(id,part){
  if(!part||part.status!==200){$(id).innerHTML="<p class=muted>"+(part&&part.status===404?"not available on this gateway":"could not be read")+"</p>";return;}
  const body=part.body||{};const list=body.bans||body.lists||body.entries||[];
  $(id).innerHTML=Array.isArray(list)&&list.length?"<pre>"+esc(JSON.stringify(list,null,1))+"</pre>":"<p class=muted>none</p>";
}
function render(d){
  const dt=prev?(d.at-prev.at)/1000:0;const rows=[];
  for(const rule of Object.keys(d.requests).sort())for(const out of Object.keys(d.requests[rule]).sort()){
    const n=d.requests[rule][out];const was=prev&&prev.requests[rule]?prev.requests[rule][out]||0:n;
    rows.push([esc(rule),esc(out),n,dt>0?((n-was)/dt).toFixed(2):"–"]);
  }
  table("requests",[["rule"],["outcome"],["total",1],["per second",1]],rows,"no decisions yet");
  table("limited",[["rule"],["subject"],["denials",1]],d.limited.map(s=>[esc(s.rule),esc(s.subject),s.denials]),"nobody limited");
  table("quotas",[["tenant"],["rule"],["limit"],["used",1],[""]],d.quotas.map(q=>[esc(q.tenant),esc(q.rule),esc(q.limit),Math.round(q.used*100)+"%",bar(q.used)]),"no tenant usage");
  table("stores",[["store"],["calls",1],["p50 ms",1],["p99 ms",1],["degraded s",1]],d.stores.map(s=>[esc(s.store),s.calls,"≤ "+s.p50Ms,"≤ "+s.p99Ms,s.degradedSeconds.toFixed(1)]),"no store calls yet");
  const ad=Object.entries(d.adaptive);$("adaptive").innerHTML=ad.length?"<h2>Adaptive factors</h2>"+ad.map(([r,f])=>esc(r)+": "+f).join("<br>"):"";
  other("bans",d.bans);other("lists",d.lists);
  $("updated").textContent="updated "+new Date(d.at).toLocaleTimeString();prev=d;
}
async function poll(){
  try{const r=await fetch("/__sluice/dashboard/data",{credentials:"same-origin",cache:"no-store"});
    if(r.status===401){location.reload();return;}
    if(r.ok)render(await r.json());else $("updated").textContent="metrics unavailable ("+r.status+")";
  }catch(e){$("updated").textContent="gateway unreachable";}
}
poll();setInterval(poll,3000);`;
