// Shows the "wrong token" line after a failed login (no inline script: the CSP forbids it).
if (new URLSearchParams(location.search).has('failed')) document.getElementById('failed').hidden = false;
