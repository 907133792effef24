/* Residents' page: the login gate and, behind it, "Créer un compte" (the
 * sign-up with a proof of address, resident/join.js). A validated account
 * gets the live page (report, nearby alerts, messages: resident/live.js);
 * an account that is pending, rejected or suspended gets its status
 * instead (resident/account.js), as the server allows it nothing else. */
import { ROLES } from "./shared/config.js";
import { isValidated, requireUser } from "./shared/session.js";
import { showAccount } from "./resident/account.js";
import { bindJoin, justJoined } from "./resident/join.js";
import { startLive } from "./resident/live.js";
import { startSettings } from "./resident/settings.js"; // issue 19

bindJoin();
const me = await requireUser(ROLES.resident);
if (isValidated(me)) {
  await startLive(me);
  await startSettings(); // issue 19: notification settings and push
} else {
  showAccount(me, { justJoined: justJoined() });
}
