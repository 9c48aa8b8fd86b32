// Starts Swagger UI on /docs from the locally served bundle (a file, not an inline script, so
// the page keeps to the service's Content-Security-Policy).
(function () {
  "use strict";
  var box = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: box.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset]
  });
})();
