// Starts GraphiQL. The page's Content-Security-Policy admits this script by
// its SHA-256, so it must not vary: everything configurable comes from the
// JSON in #ide-config, which the browser parses as data, never runs.
(function () {
  'use strict';
  var root = document.getElementById('graphiql');
  var config = JSON.parse(document.getElementById('ide-config').textContent);
  if (typeof window.GraphiQL === 'undefined' || typeof window.ReactDOM === 'undefined') {
    // A blocked CDN otherwise leaves "Loading…" on screen for ever.
    root.textContent = config.loadError;
    return;
  }
  // GraphiQL's dialogs add <style> elements (react-remove-scroll), which
  // the CSP admits only with the page's nonce; their code takes it from here.
  window.__webpack_nonce__ = config.styleNonce;
  var headers = Object.keys(config.headers).length ? JSON.stringify(config.headers, null, 2) : '';
  var plugins = [];
  if (window.GraphiQLPluginExplorer) {
    plugins.push(window.GraphiQLPluginExplorer.explorerPlugin());
  }
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: GraphiQL.createFetcher({ url: new URL(config.endpoint, location.href).href }),
      defaultQuery: config.defaultQuery,
      defaultHeaders: headers,
      isHeadersEditorEnabled: true,
      // Open the headers tab when it holds something worth seeing (the demo
      // credential); otherwise leave the editor tools folded.
      defaultEditorToolsVisibility: headers ? 'headers' : false,
      // Credentials typed into the headers editor stay out of localStorage.
      shouldPersistHeaders: false,
      plugins: plugins,
      // null: no schema, and no introspection request, which the server
      // would refuse; the page's notice says why and how to turn it on.
      schema: config.introspection ? undefined : null,
      // Ask introspection for the schema's own description (the docs
      // explorer shows it first) and for deprecated arguments.
      schemaDescription: true,
      inputValueDeprecation: true
    })
  );
})();
