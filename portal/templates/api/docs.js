// Draws the API reference from the served OpenAPI document (no inline script: the CSP forbids it).
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("api-reference");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    tryItOutEnabled: false,
    persistAuthorization: false,
  });
});
