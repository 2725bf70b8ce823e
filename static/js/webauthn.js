// Security keys (WebAuthn). A form marked data-webauthn="register" or "authenticate" asks the
// server for options (POST to data-options-url, with the CSRF token as a header), lets the
// browser talk to the key, puts the key's answer as JSON in the form's hidden "credential"
// field and submits the form. The server verifies everything; this file only carries bytes.
(function () {
  "use strict";

  function toBytes(base64url) {
    var base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var binary = window.atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return window.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map(function (item) {
      return { type: item.type, id: toBytes(item.id), transports: item.transports };
    });
  }

  function creationOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = toBytes(json.challenge);
    options.user = Object.assign({}, json.user, { id: toBytes(json.user.id) });
    options.excludeCredentials = withIds(json.excludeCredentials);
    return { publicKey: options };
  }

  function requestOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = toBytes(json.challenge);
    options.allowCredentials = withIds(json.allowCredentials);
    return { publicKey: options };
  }

  function registrationJSON(credential) {
    var response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        attestationObject: toBase64url(response.attestationObject),
        transports: response.getTransports ? response.getTransports() : []
      }
    };
  }

  function assertionJSON(credential) {
    var response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        authenticatorData: toBase64url(response.authenticatorData),
        signature: toBase64url(response.signature),
        userHandle: response.userHandle ? toBase64url(response.userHandle) : undefined
      }
    };
  }

  function showError(form, message) {
    var box = form.querySelector("[data-webauthn-error]");
    if (box) {
      box.textContent = message;
      box.hidden = false;
    }
  }

  function fetchOptions(form) {
    var token = form.querySelector("input[name$='csrf_token']");
    return window.fetch(form.getAttribute("data-options-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": token ? token.value : "" }
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) { throw new Error(body.error || "The server did not answer."); }
        return body;
      });
    });
  }

  function run(form, button) {
    var registering = form.getAttribute("data-webauthn") === "register";
    var field = form.querySelector("input[name$='credential']");
    button.disabled = true;
    fetchOptions(form)
      .then(function (json) {
        return registering
          ? navigator.credentials.create(creationOptions(json))
          : navigator.credentials.get(requestOptions(json));
      })
      .then(function (credential) {
        if (!credential) { throw new Error("No security key answered."); }
        field.value = JSON.stringify(registering ? registrationJSON(credential) : assertionJSON(credential));
        form.submit();
      })
      .catch(function (error) {
        button.disabled = false;
        var message = error && error.name === "NotAllowedError"
          ? "The security key was not used (the request was cancelled or timed out). Try again."
          : error && error.name === "InvalidStateError"
            ? "This security key is already registered."
            : (error && error.message) || "The security key could not be used.";
        showError(form, message);
      });
  }

  function wire(form) {
    if (form.hasAttribute("data-wired")) { return; }
    form.setAttribute("data-wired", "1");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!window.PublicKeyCredential || !navigator.credentials) {
        showError(form, "This browser cannot use security keys.");
        return;
      }
      run(form, event.submitter || form.querySelector("button[type=submit]"));
    });
    // The page ships the button disabled: clicked before this listener, it would post no key.
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      button.disabled = false;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-webauthn]").forEach(wire);
  });
})();
