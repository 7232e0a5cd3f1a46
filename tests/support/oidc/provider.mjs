// A real OpenID provider for the SSO integration tests: panva/oidc-provider (OpenID Certified),
// on 127.0.0.1, with one confidential client and users in groups. Started by tests/support/oidc.
//
//   node provider.mjs <port> <client_id> <client_secret> <redirect_uri> <users JSON> [<cli client JSON>]
//
// <cli client JSON>: {"client_id": ..., "redirect_uri": ...}, a public native client (no secret,
// PKCE) as `argosy login --sso` uses.
// <users JSON>: {"<login>": {"email": ..., "name": ..., "groups": [...]}}. The development
// interactions (a login form taking the login and any password, then a consent form) stand in
// for a real login page. PKCE is required (S256) and the claims parameter is supported.
import crypto from "node:crypto";
import Provider from "oidc-provider";

const [port, clientId, clientSecret, redirectUri, usersJson, cliJson] = process.argv.slice(2);
const users = JSON.parse(usersJson);
const cli = cliJson ? JSON.parse(cliJson) : null;
const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: "jwk" }), kid: "test-key-1", use: "sig", alg: "RS256" };

const configuration = {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      response_types: ["code"],
      grant_types: ["authorization_code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
    ...(cli
      ? [
          {
            client_id: cli.client_id,
            application_type: "native",
            redirect_uris: [cli.redirect_uri],
            response_types: ["code"],
            grant_types: ["authorization_code"],
            token_endpoint_auth_method: "none",
          },
        ]
      : []),
  ],
  jwks: { keys: [jwk] },
  cookies: { keys: [crypto.randomBytes(32).toString("hex")] },
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "preferred_username"],
    groups: ["groups"],
  },
  features: {
    devInteractions: { enabled: true },
    claimsParameter: { enabled: true },
  },
  pkce: { required: () => true },
  // put the scope claims (groups) in the ID token, as Okta and Dex do
  conformIdTokenClaims: false,
  async findAccount(ctx, id) {
    const user = users[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: user.email,
          email_verified: true,
          name: user.name,
          preferred_username: id,
          groups: user.groups,
        };
      },
    };
  },
};

const provider = new Provider(`http://127.0.0.1:${port}`, configuration);
provider.listen(Number(port), "127.0.0.1", () => {
  console.log(`listening on ${port}`);
});
